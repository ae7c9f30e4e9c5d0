"""The benchmark's pure helpers (bench/ is never run by `make test`; these keep it from rotting)."""

import json
import math
from pathlib import Path

import pytest

from bench import profile, report
from bench.stats import percentile, ratio, summarize


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [10.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    assert percentile(values, 50) == 3.0
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 10.0
    assert percentile(values, 90) == pytest.approx(7.6)  # numpy.percentile gives 7.6
    assert percentile([5.0], 99) == 5.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_and_ratio() -> None:
    summary = summarize([float(n) for n in range(1, 101)], seconds=2.0)
    assert summary["n"] == 100 and summary["p50"] == 50.5 and summary["p99"] == pytest.approx(99.01)
    assert summary["per_second"] == 50.0
    assert "per_second" not in summarize([1.0])
    assert ratio(37.7, 12.6) == 2.99 and ratio(1.0, 0.0) == math.inf


def test_profile_summary_gives_each_sample_to_its_leafmost_layer() -> None:
    collapsed = "\n".join(
        [
            "main (worker.py:1);run (temporalio/worker/_workflow.py:9);validate (pydantic/main.py:3) 30",
            "main (worker.py:1);_run_once (asyncio/base_events.py:5);select (selectors.py:2) 70",
        ]
    )
    summary = profile.summarize_collapsed(collapsed, seconds=1.0)
    assert summary["samples"] == 100
    assert summary["layers_pct"] == {"asyncio event loop": 70.0, "pydantic (validate / serialise)": 30.0}
    assert summary["busy_cpu_share"] == 0.5


def _figure(p50: float) -> dict[str, float]:
    return {"n": 10, "p50": p50, "p90": p50 * 1.5, "p99": p50 * 2, "mean": p50, "per_second": 1000 / p50}


def test_results_writer_renders_ratios_to_the_floor(tmp_path: Path) -> None:
    results = {
        "run": {
            "mode": "quick",
            "started": "2026-11-26 08:00",
            "seconds": 100.0,
            "command": "make bench-quick",
            "machine": {
                "cpu": "test cpu",
                "cores": 2,
                "memory_gib": 4,
                "load_before": "1 1 1",
                "load_after": "2 2 2",
                "versions": "x",
            },
        },
        "read": {
            "clients_1": {
                "service": _figure(4.0),
                "floor": _figure(3.0),
                "ratio_p50": ratio(4.0, 3.0),
                "throughput_share": 0.75,
            }
        },
        "brief": "Skipped.",
    }
    md, js = tmp_path / "results.md", tmp_path / "results.json"
    report.write(results, md, js)
    text = md.read_text()
    assert "| 1 | 4.00 / 6.00 / 8.00 | 3.00 / 4.50 / 6.00 | 1.33\u00d7 | 250 / 333 /s (75%) |" in text
    assert "This 2-core machine is shared" in text and "load average 1 1 1 before, 2 2 2 after" in text
    assert json.loads(js.read_text())["read"]["clients_1"]["ratio_p50"] == 1.33


def test_brief_vectors_composed_from_token_sums_equal_wordllama_embed() -> None:
    """Figure 5's generator composes an event's vector from its notes' token sums instead of embedding a
    million texts; that is only honest while it equals what ``WordLlama.embed`` gives for the same text."""
    import numpy as np

    from bench import brief_data
    from coach_sessions.providers.embeddings import LocalEmbeddingProvider

    corpus = brief_data.Corpus(LocalEmbeddingProvider())
    rng = np.random.default_rng(0)
    assert brief_data.check_composition(corpus, rng, n=300) < 1e-5
    rows = corpus.draw(rng, 1000)
    counts = (rows < len(corpus.notes)).sum(axis=1)
    real = [r[r < len(corpus.notes)] for r in rows]  # the rest is padding
    assert set(counts) == set(brief_data.NOTES_PER_EVENT) and all(len(set(r)) == len(r) for r in real)
    (wire,) = brief_data.vector_binary(corpus.vectors(rows[:1]))
    assert len(wire) == 4 + 256 * 4 and wire[:4] == b"\x01\x00\x00\x00"  # int16 dims, int16 unused


def test_brief_figure_renders_each_size() -> None:
    from bench import fig_brief

    stats = _figure(5.0)
    size = {
        "children": 100,
        "events_in_table": 10_050,
        "distinct_vectors": 9_990,
        "load": {"events": 10_000, "seconds": 9.0, "generate": 1.0, "copy_events": 2.0,
                 "copy_embeddings": 6.0},
        "hnsw_build": {"seconds": 4.0},
        "mib": {"hnsw_index": 12.0},
        "endpoint": {"service": stats, "floor": stats, "repository": stats, "ratio_p50": 1.0,
                     "ratio_p50_vs_repository": 1.0},
        "hybrid": {"hybrid": stats, "floor": stats, "vector": stats, "text": stats, "query_embedding": stats,
                   "ratio_p50": 1.0},
        "plan_indexes": ["learning_event_embeddings_child_idx"],
        "checks": {"children": 30, "hybrid_rows_min": 12, "vector_rows_min": 20, "foreign_rows": 0,
                   "hnsw_path": {"rows_min": 3, "rows_mean": 9.5, "recall_mean": 0.4, "latency": stats}},
    }  # fmt: skip
    brief = {
        "samples": 100,
        "per_child": 100,
        "composition_max_error": 2e-7,
        "settings": {"maintenance_work_mem": "2GB", "max_parallel_maintenance_workers": "2"},
        "sizes": {"10000": size},
        "insert_probe": {"events": 2000, "into_table_of": 10_050, "indexed_ms_per_row": 0.9,
                         "copy_then_build_ms_per_row": 0.5},
    }  # fmt: skip
    text = "\n".join(fig_brief.render(brief))
    assert "| 10,000 (10,050) | 9,990 | 9.0 for 10,000 (1.0 / 2.0 / 6.0) | 4.0 | 12.0 |" in text
    assert "| 10,000 | 30 | 12 | 20 | 0 | 3 / 9.5 | 0.4 | 5.00 |  |" in text
    assert fig_brief.render("Skipped.")[-2] == "Skipped."


def test_scale_figure_renders_rate_memory_series_and_cache_bound() -> None:
    after = {
        "read": {"service": _figure(4.0), "floor": _figure(3.0), "ratio_p50": 1.33},
        "action": {"service": _figure(30.0), "floor": _figure(20.0), "ratio_p50_vs_floor": 1.5},
    }
    scale = {
        "children": 2,
        "sessions": 24,
        "enroll_api_seconds": 0.5,
        "all_workflows_started_seconds": 1.5,
        "all_workflows_running_seconds": 2.0,
        "session_workflows_per_second": 12.0,
        "worker_max_cached_workflows": 1000,
        "settle_seconds": 10,
        "cpu_cores_used": {"temporal": 0.6, "worker": 0.5},
        "cpu_cores_total": 1.1,
        "memory": [{"sessions": 0, "seconds": 0, "worker_rss_mib": 200.0, "temporal_rss_mib": 150.0}],
        "temporal_sqlite_bytes_per_session": 30000,
        "postgres_bytes_per_session": 800,
        "after": after,
    }
    text = "\n".join(report._scale(scale))
    assert "**12.0 session workflows/s**" in text and "temporal 0.6, worker 0.5; total 1.1 of 2" in text
    assert "| 0 | 0 | 200.0 | 150.0 |" in text and "(`WORKER_MAX_CACHED_WORKFLOWS`): 1000" in text
    assert "reschedule p50 30.00 ms vs floor 20.00 (1.5\u00d7)" in text
    assert "120000 / 12.0 per s = 2.8 h" in text and "120000 \u00d7 30000 B = 3.6 GB" in text
