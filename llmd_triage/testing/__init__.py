"""Tree test cases: the one runner that both `llmd-triage test` and pytest use."""
