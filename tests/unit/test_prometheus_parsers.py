"""Prometheus text exposition and API answers as plain data: real exporter output, edge cases, garbage."""

from __future__ import annotations

import math
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llmd_triage.parsers import get_parser, parser_names, safe_parse
from llmd_triage.parsers.prometheus import (
    MAX_ERRORS,
    MAX_SERIES,
    format_labels,
    parse_prom_text,
    series,
    to_float,
    vector_summary,
)

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"

T4_LABELS = {
    "gpu": "0",
    "UUID": "GPU-e1200d64-e918-4277-cad9-75da90b9f618",
    "device": "nvidia0",
    "modelName": "Tesla T4",
    "Hostname": "nvidia-dcgm-exporter-ml2wh",
    "container": "dcgmproftester11",
    "namespace": "default",
    "pod": "dcgmproftester",
}


def test_registered_as_prom_text() -> None:
    assert "prom_text" in parser_names()
    assert get_parser("prom_text") is parse_prom_text


def test_dcgm_exporter_real_output() -> None:
    data = parse_prom_text((REAL / "dcgm-exporter-metrics-t4-xid-fb-pod-labels.txt").read_text())
    assert data["errors"] == []
    assert data["families"] == {
        "DCGM_FI_DEV_DEC_UTIL": {"type": "gauge", "help": "Decoder utilization (in %)."},
        "DCGM_FI_DEV_XID_ERRORS": {"type": "gauge", "help": "Value of the last XID error encountered."},
        "DCGM_FI_DEV_FB_FREE": {"type": "gauge", "help": "Framebuffer memory free (in MiB)."},
        # its sample line was cut off in the source: metadata without samples is fine
        "DCGM_FI_DEV_FB_USED": {"type": "gauge", "help": "Framebuffer memory used (in MiB)."},
    }
    # the excerpt starts with a sample whose HELP/TYPE were cut off
    assert [(s["name"], s["value"]) for s in data["samples"]] == [
        ("DCGM_FI_DEV_ENC_UTIL", 0.0),
        ("DCGM_FI_DEV_DEC_UTIL", 0.0),
        ("DCGM_FI_DEV_XID_ERRORS", 0.0),
        ("DCGM_FI_DEV_FB_FREE", 15109.0),
    ]
    assert all(s["labels"] == T4_LABELS and s["timestamp"] is None for s in data["samples"])
    xid = series(data, "DCGM_FI_DEV_XID_ERRORS", gpu="0", pod="dcgmproftester")
    assert len(xid) == 1 and xid[0]["value"] == 0.0
    assert series(data, "DCGM_FI_DEV_XID_ERRORS", gpu="1") == []
    assert series(data, "DCGM_FI_DEV_FB_USED") == []


def test_vllm_metrics_real_output() -> None:
    data = parse_prom_text((REAL / "vllm-metrics-v1-qwen-coder-32b-production-stack.txt").read_text())
    assert data["errors"] == []
    assert len(data["families"]) == 8
    assert data["families"]["vllm:gpu_cache_usage_perc"] == {
        "type": "gauge",
        "help": "GPU KV-cache usage. 1 means 100 percent usage.",
    }
    assert data["families"]["vllm:gpu_prefix_cache_queries_total"]["type"] == "counter"
    values = {s["name"]: s["value"] for s in data["samples"]}
    assert values == {
        "process_start_time_seconds": 1742624005.57,
        "process_cpu_seconds_total": 439.71999999999997,
        "process_open_fds": 45.0,
        "process_max_fds": 1048576.0,
        "vllm:num_requests_running": 0.0,
        "vllm:num_requests_waiting": 0.0,
        "vllm:gpu_cache_usage_perc": 0.0,
    }
    model = {"model_name": "Qwen/Qwen2.5-Coder-32B-Instruct"}
    assert series(data, "vllm:num_requests_waiting", **model)[0]["labels"] == model
    assert series(data, "process_open_fds")[0]["labels"] == {}


def test_escapes_timestamps_special_values() -> None:
    text = (
        "# HELP m A help with a \\\\ backslash\\nand a newline.\n"
        "# TYPE m gauge\n"
        'm{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",brace="}",comma="x,y",} 1.5 1700000000123\n'
        "m{} NaN\n"
        "m +Inf\n"
        "m -Inf -5\n"
        "m 1e3\n"
        '  m{ a = "1" , b="2" }   7   \n'
    )
    data = parse_prom_text(text)
    assert data["errors"] == []
    assert data["families"]["m"] == {"type": "gauge", "help": "A help with a \\ backslash\nand a newline."}
    first = data["samples"][0]
    assert first["labels"] == {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb", "brace": "}", "comma": "x,y"}
    assert first["value"] == 1.5 and first["timestamp"] == 1700000000123
    assert [s["value"] for s in data["samples"][1:]] == [None, math.inf, -math.inf, 1000.0, 7.0]
    assert data["samples"][3]["timestamp"] == -5
    assert data["samples"][5]["labels"] == {"a": "1", "b": "2"}


def test_histogram_and_summary() -> None:
    text = """# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{le="1.0",model_name="m"} 9.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 10.0
vllm:time_to_first_token_seconds_count{model_name="m"} 10.0
vllm:time_to_first_token_seconds_sum{model_name="m"} 4.25
# HELP rpc_duration_seconds A summary.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""
    data = parse_prom_text(text)
    assert data["errors"] == []
    assert data["families"]["vllm:time_to_first_token_seconds"]["type"] == "histogram"
    assert data["families"]["rpc_duration_seconds"]["type"] == "summary"
    buckets = series(data, "vllm:time_to_first_token_seconds_bucket", model_name="m")
    assert [(b["labels"]["le"], b["value"]) for b in buckets] == [("0.1", 3.0), ("1.0", 9.0), ("+Inf", 10.0)]
    assert series(data, "vllm:time_to_first_token_seconds_sum")[0]["value"] == 4.25
    assert series(data, "rpc_duration_seconds", quantile="0.99")[0]["value"] is None
    assert series(data, "rpc_duration_seconds_sum")[0]["value"] == 17560473.0


def test_openmetrics_exemplars_units_eof_and_utf8_names() -> None:
    text = """# TYPE vllm:e2e_request_latency_seconds histogram
# UNIT vllm:e2e_request_latency_seconds seconds
vllm:e2e_request_latency_seconds_bucket{le="0.5"} 4 # {trace_id="abc"} 0.31 1700000000.5
vllm:e2e_request_latency_seconds_bucket{le="+Inf"} 5 1700000001.25
{"gpu.temperature.celsius", "node.name"="gpu-node-a"} 61
{"only.a.name"} 2
# EOF
"""
    data = parse_prom_text(text)
    assert data["errors"] == []
    fam = data["families"]["vllm:e2e_request_latency_seconds"]
    assert fam == {"type": "histogram", "help": None, "unit": "seconds"}
    assert [(s["value"], s["timestamp"]) for s in data["samples"][:2]] == [(4.0, None), (5.0, 1700000001.25)]
    assert data["samples"][2] == {
        "name": "gpu.temperature.celsius",
        "labels": {"node.name": "gpu-node-a"},
        "value": 61.0,
        "timestamp": None,
    }
    assert data["samples"][3]["name"] == "only.a.name"


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_kept() -> None:
    text = "\n".join(
        [
            "good 1",
            "no_value",
            'bad{a="unterminated} 1',
            "bad{a=1} 2",
            "number abc",
            "too many fields 1 2",
            "# TYPE t nonsense",
            "# HELP",
            'x{a="1"}2',
            'ok{a="1"} 2 1700000000000\r',
        ]
    )
    data = parse_prom_text(text)
    assert [s["name"] for s in data["samples"]] == ["good", "ok"]
    lines = [e.split(":")[0] for e in data["errors"]]
    assert lines == ["line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"]
    assert "value 'abc' is not a number" in data["errors"][3]
    assert "unknown metric type 'nonsense'" in data["errors"][5]


def test_error_list_is_capped() -> None:
    data = parse_prom_text("garbage garbage garbage\n" * 500)
    assert data["samples"] == []
    assert len(data["errors"]) == MAX_ERRORS + 1
    assert data["errors"][-1] == f"… and {500 - MAX_ERRORS} more problems"


def test_not_text_is_an_error_not_an_exception() -> None:
    assert parse_prom_text(b"m 1")["errors"] == ["expected text, got bytes"]  # type: ignore[arg-type]
    assert parse_prom_text("") == {"families": {}, "samples": [], "errors": []}
    assert series(None, "m") == [] and series({"samples": "x"}, "m") == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_without_raising(text: str) -> None:
    data = parse_prom_text(text)
    assert set(data) == {"families", "samples", "errors"}
    assert safe_parse("prom_text", text) == data


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_any_bytes_decoded_parse_without_raising(raw: bytes) -> None:
    data = parse_prom_text(raw.decode("utf-8", "replace"))
    assert isinstance(data["errors"], list)


_LINE = st.tuples(
    st.sampled_from(["m", "vllm:x", "DCGM_FI_DEV_XID_ERRORS", '{"a.b"', "", "#", "# TYPE", "# HELP m"]),
    st.lists(
        st.tuples(st.sampled_from(["a", "le", '"x.y"', "", "="]), st.text(alphabet='ab\\"\n,}{= ', max_size=6)),
        max_size=3,
    ),
    st.sampled_from(["1", "NaN", "+Inf", "-1e3", "x", "", "1 2", "1 2 3", ' # {a="b"} 1']),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8))
def test_near_miss_expositions_parse_without_raising(lines: list) -> None:
    text = ""
    for name, labels, value in lines:
        body = ",".join(f'{k}="{v}"' for k, v in labels)
        text += f"{name}{{{body}}} {value}\n" if labels or name.startswith("{") else f"{name} {value}\n"
    data = parse_prom_text(text)
    assert isinstance(data["samples"], list) and isinstance(data["errors"], list)


def test_twenty_megabytes_parse_in_bounded_time() -> None:
    line = (
        'DCGM_FI_DEV_FB_USED{gpu="%d",UUID="GPU-e1200d64-e918-4277-cad9-75da90b9f618",device="nvidia%d",'
        'modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-node-a",container="vllm",namespace="llm-d",'
        'pod="vllm-decode-%d"} %d\n'
    )
    chunk = "".join(line % (i % 8, i % 8, i, i) for i in range(1000))
    text = "# TYPE DCGM_FI_DEV_FB_USED gauge\n" + chunk * (20 * 1024 * 1024 // len(chunk) + 1)
    assert len(text) >= 20 * 1024 * 1024
    started = time.monotonic()
    data = parse_prom_text(text)
    elapsed = time.monotonic() - started
    assert data["errors"] == []
    assert len(data["samples"]) == text.count("\n") - 1
    assert elapsed < 5, f"20 MB took {elapsed:.1f}s: the parser is not linear"  # a guard, not a benchmark


# ---------------------------------------------------------------------- vector_summary

XID_VECTOR = {
    "resultType": "vector",
    "result": [
        {
            "metric": {"Hostname": "gpu-node-a", "err_code": "79", "gpu": "3"},
            "value": [1763608320.5, "79"],
        },
        {
            "metric": {"Hostname": "gpu-node-b", "err_code": "13", "gpu": "0"},
            "value": [1763608320.5, "13"],
        },
    ],
}


def test_vector_summary_of_a_vector() -> None:
    out = vector_summary(XID_VECTOR)
    assert out == {
        "result_type": "vector",
        "series": [
            {"labels": {"Hostname": "gpu-node-a", "err_code": "79", "gpu": "3"}, "value": 79.0, "time": 1763608320.5},
            {"labels": {"Hostname": "gpu-node-b", "err_code": "13", "gpu": "0"}, "value": 13.0, "time": 1763608320.5},
        ],
        "count": 2,
        "max": 79.0,
        "min": 13.0,
        "sum": 92.0,
        "truncated": False,
        "errors": [],
    }
    # the full API answer is unwrapped
    assert vector_summary({"status": "success", "data": XID_VECTOR}) == out


def test_vector_summary_special_values_and_empty() -> None:
    out = vector_summary(
        {
            "resultType": "vector",
            "result": [
                {"metric": {"a": "1"}, "value": [1, "NaN"]},
                {"metric": {"a": "2"}, "value": [1, "+Inf"]},
                {"metric": {"a": "3"}, "value": [1, "-2.5"]},
            ],
        }
    )
    assert [s["value"] for s in out["series"]] == [None, math.inf, -2.5]
    assert (out["count"], out["max"], out["min"], out["sum"]) == (3, math.inf, -2.5, math.inf)
    empty = vector_summary({"resultType": "vector", "result": []})
    assert (empty["count"], empty["max"], empty["min"], empty["sum"], empty["errors"]) == (0, None, None, 0.0, [])
    only_nan = vector_summary({"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]})
    assert (only_nan["count"], only_nan["max"], only_nan["sum"]) == (1, None, 0.0)
    both_inf = vector_summary(
        {"resultType": "vector", "result": [{"metric": {}, "value": [1, "+Inf"]}, {"metric": {}, "value": [1, "-Inf"]}]}
    )
    assert both_inf["sum"] is None


def test_vector_summary_of_a_matrix() -> None:
    out = vector_summary(
        {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "vllm:num_preemptions_total", "pod": "vllm-decode-0"},
                    "values": [[1000, "300"], [1060, "312"], [1120, "NaN"], [1180, "336"]],
                }
            ],
        }
    )
    assert out["result_type"] == "matrix" and out["errors"] == []
    assert out["series"] == [
        {
            "labels": {"__name__": "vllm:num_preemptions_total", "pod": "vllm-decode-0"},
            "value": 336.0,
            "time": 1180.0,
            "values": [300.0, 312.0, None, 336.0],
            "timestamps": [1000.0, 1060.0, 1120.0, 1180.0],
        }
    ]
    assert (out["count"], out["max"], out["min"], out["sum"]) == (1, 336.0, 336.0, 336.0)


def test_vector_summary_scalar_string_histogram() -> None:
    scalar = vector_summary({"resultType": "scalar", "result": [1700000000, "0.97"]})
    assert scalar["series"] == [{"labels": {}, "value": 0.97, "time": 1700000000.0}]
    assert scalar["max"] == 0.97
    text = vector_summary({"resultType": "string", "result": [1700000000, "hello"]})
    assert text["series"] == [{"labels": {}, "value": None, "time": 1700000000.0, "text": "hello"}]
    hist = vector_summary(
        {"resultType": "vector", "result": [{"metric": {}, "histogram": [5, {"count": "3", "sum": "1"}]}]}
    )
    assert hist["series"][0]["value"] is None and hist["series"][0]["histogram"] == [5, {"count": "3", "sum": "1"}]
    assert hist["errors"] == []


def test_vector_summary_garbage_never_raises() -> None:
    for junk in (None, 3, "x", [], {}, {"resultType": "vector"}, {"resultType": "table", "result": []}):
        out = vector_summary(junk)
        assert out["count"] == 0 and out["errors"], junk
    out = vector_summary({"resultType": "vector", "result": [1, {"metric": "x", "value": "y"}, {"metric": {}}]})
    assert out["count"] == 2
    assert out["errors"] == [
        "result[0] is not an object",
        "result[1] value is not a [time, value] pair",
        "result[2] has no value",
    ]
    assert out["series"][0] == {"labels": {}, "value": None, "time": None}
    assert vector_summary({"resultType": "scalar", "result": "x"})["errors"] == [
        "a scalar result is not a [time, value] pair"
    ]
    assert vector_summary({"resultType": "matrix", "result": [{"metric": {}}]})["errors"] == ["result[0] has no values"]


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5) | st.integers(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=12,
    ),
    st.sampled_from(["vector", "matrix", "scalar", "string", "x"]),
)
def test_vector_summary_of_any_json_never_raises(result: object, rtype: str) -> None:
    out = vector_summary({"resultType": rtype, "result": result})
    assert out["count"] == len(out["series"])


def test_vector_summary_keeps_at_most_max_series() -> None:
    many = {"resultType": "vector", "result": [{"metric": {"i": str(i)}, "value": [1, str(i)]} for i in range(1500)]}
    out = vector_summary(many)
    assert out["count"] == 1500 and len(out["series"]) == MAX_SERIES and out["truncated"] is True
    assert out["max"] == 1499.0 and out["sum"] == sum(range(1500))


def test_small_helpers() -> None:
    assert to_float("NaN") is None and to_float("+Inf") == math.inf and to_float(None) is None
    assert to_float("1e3") == 1000.0 and to_float([1]) is None
    assert format_labels({"__name__": "up", "job": 'a"b', "a": "x\\y"}) == 'up{a="x\\\\y",job="a\\"b"}'
    assert format_labels({"__name__": "up"}) == "up"
    assert format_labels({}) == "{}"
