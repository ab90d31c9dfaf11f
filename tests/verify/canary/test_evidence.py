"""Evidence carried across stages (resume-from): an analysis resumed from an earlier one's report
holds exactly the evidence of one uninterrupted analysis of the same looks, and a report read back
is hostile input, checked before anything is asked of Prometheus."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.cli import main
from deploy_actions.errors import InputError
from deploy_actions.verify.canary import evidence, report, rules, stats
from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis
from deploy_actions.verify.canary.providers import ArmCounts, LookData
from tests.verify.canary.builders import FAST, SLOW, arm

# Long enough that nothing is decided: the evidence is compared, not the decision.
CONFIG = AnalysisConfig(alpha=1e-30, min_requests=10**9, min_duration=3600, duration=3600)


def _looks(errors: int, shares, count: int = 16) -> list[tuple[tuple[float, float], tuple[float, float], tuple]]:
    """Per look: canary (requests, errors), baseline (requests, errors), canary latency shares; the
    canary's error count and speed vary from look to look, so dispersion is estimated too."""
    return [((200 + 10 * (i % 3), errors + i % 4), (1800 + 50 * (i % 2), 5 + i % 3), shares if i % 2 else FAST)
            for i in range(count)]


def _analyse(looks, resumed=()) -> CanaryAnalysis:
    analysis = CanaryAnalysis(CONFIG, resumed)
    analysis.look(0.0, LookData(ArmCounts(), ArmCounts()))
    canary_total = baseline_total = ArmCounts()
    for i, (canary, baseline, shares) in enumerate(looks, 1):
        # Cumulative counts grown by each look's own histogram (the speed changes from look to look).
        canary_total, baseline_total = canary_total.plus(arm(*canary, shares=shares)), baseline_total.plus(
            arm(*baseline))
        assert analysis.look(i * 10.0, LookData(canary_total, baseline_total)) is None
    return analysis


def _handed_over(analysis: CanaryAnalysis, tmp_path) -> tuple[rules.GuardState, ...]:
    conclusion = analysis.finish(analysis.last_t or 0.0)
    path = report.write(str(tmp_path / "stage-1.json"), report.document(
        conclusion, CONFIG, analysis.timeline, "probe", (), analysis.guards))
    return evidence.read(path, CONFIG.guards, CONFIG.alpha)


@pytest.mark.parametrize(("errors", "shares", "split"), [(1, FAST, 5), (6, SLOW, 8), (3, SLOW, 2)])
def test_resumed_evidence_equals_one_uninterrupted_run(tmp_path, errors, shares, split):
    looks = _looks(errors, shares)
    whole = _analyse(looks)
    carried = _handed_over(_analyse(looks[:split]), tmp_path)
    assert all(g.verdict == "nodata" and g.breached_seconds == 0 for g in carried)  # 'for' counts per stage
    second = _analyse(looks[split:], carried)
    assert [g.guard for g in second.guards] == [g.guard for g in whole.guards]
    for resumed, uninterrupted in zip(second.guards, whole.guards, strict=True):
        assert resumed.boundary == uninterrupted.boundary
        for field in dataclasses.fields(uninterrupted.test):
            assert getattr(resumed.test, field.name) == pytest.approx(getattr(uninterrupted.test, field.name),
                                                                      rel=1e-12, abs=1e-12), field.name
        assert resumed.test.log_e() == pytest.approx(uninterrupted.test.log_e(), rel=1e-9, abs=1e-9)
        assert resumed.test.p_value == pytest.approx(uninterrupted.test.p_value, rel=1e-9, abs=1e-12)
    # ...and the evidence is not trivial: some guard has some, and starting afresh loses it.
    fresh = _analyse(looks[split:])
    assert any(g.test.log_e() > 1 for g in whole.guards)
    assert any(abs(f.test.log_e() - w.test.log_e()) > 0.5 for f, w in zip(fresh.guards, whole.guards, strict=True))


def _report(tmp_path, mutate) -> str:
    analysis = _analyse(_looks(2, SLOW, 6))
    doc = report.document(analysis.finish(60.0), CONFIG, analysis.timeline, "probe", (), analysis.guards)
    mutate(doc)
    path = tmp_path / "stage.json"
    path.write_text(json.dumps(doc) if isinstance(doc, dict) else str(doc))
    return str(path)


def _state(doc, name="error-increase"):
    return next(g for g in doc["evidence"]["guards"] if g["name"] == name)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("evidence"), "with its evidence"),
    (lambda d: d["evidence"].update(alpha=0.05), "the same alpha (1e-30, it has 0.05)"),
    (lambda d: d["evidence"]["guards"].pop(), "the same guards"),
    (lambda d: _state(d).update(threshold=0.01), "the same guards (error-increase"),
    (lambda d: _state(d, "error-rate").update(for_seconds=60), "the same guards (error-rate"),
    (lambda d: _state(d)["state"].update(canary_k=1e12), "is not one a test can reach"),
    (lambda d: _state(d)["state"].update(reference=-5), "is not one a test can reach"),
    (lambda d: _state(d)["state"].update(margin=0.2), "is not one a test can reach"),
    (lambda d: _state(d)["state"].update(canary_n=1e308, canary_k=1e308, reference_var=1e308, ref_n=1e308),
     "is not one a test can reach"),  # sums this large would make the evidence NaN
    (lambda d: _state(d)["state"].update(looks=2.5), "looks is not a whole number"),
    (lambda d: _state(d)["state"].update(canary_n="many"), "canary_n is not a finite number"),
    (lambda d: _state(d)["state"].update(max_log_e=True), "max_log_e is not a finite number"),
    (lambda d: _state(d)["state"].pop("ref_n"), "lacks its sums"),
    (lambda d: _state(d, "error-rate").update(boundary=0.25), "boundary is not a latency bound"),
    (lambda d: _state(d, "p95-increase").update(boundary=-1), "boundary is not a latency bound"),
])
def test_a_report_that_does_not_fit_is_refused(tmp_path, mutate, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evidence.read(_report(tmp_path, mutate), CONFIG.guards, CONFIG.alpha)


def test_a_lower_running_maximum_is_raised_to_what_the_sums_give(tmp_path):
    path = _report(tmp_path, lambda d: _state(d)["state"].update(max_log_e=0))
    resumed = evidence.read(path, CONFIG.guards, CONFIG.alpha)
    assert all(g.test.max_log_e >= g.test.log_e() for g in resumed)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "a canary-monitor JSON report"),
    ('{"evidence": {"format": 1, "alpha": NaN}}', "a canary-monitor JSON report (with finite numbers)"),
    ('{"evidence": {"format": 1, "alpha": Infinity}}', "with finite numbers"),
    ("[]", "with its evidence"),
    ('{"evidence": {"format": 2}}', "with its evidence (format 1)"),
])
def test_what_is_not_a_report_is_refused(tmp_path, content, message):
    path = tmp_path / "stage.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evidence.read(str(path), CONFIG.guards, CONFIG.alpha)


def test_resume_from_on_the_command_line_is_one_line_and_exit_2_before_any_query(tmp_path, capsys):
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    base = ["canary-monitor", "--prometheus-url", "http://127.0.0.1:9", "--canary-selector", 'job="a"',
            "--baseline-selector", 'job="b"', "--duration", "1m", "--alpha", "1e-30"]
    for path, expected in ((tmp_path / "missing.json", "No such file"), (tmp_path / "link.json", "symbolic link"),
                           (tmp_path, "a folder"), (tmp_path / "real.json", "with its evidence")):
        assert main([*base, "--resume-from", str(path)]) == 2
        err = capsys.readouterr().err
        assert "input 'resume-from'" in err and expected in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    good = _report(tmp_path, lambda d: None)
    assert main([*base, "--resume-from", good, "--max-p99-ratio", "off"]) == 2
    assert "the same guards (error-rate, error-increase, p95-increase; it has" in capsys.readouterr().err


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False,
                     allow_infinity=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                  max_size=4), max_leaves=20)


_ENTRY_KEYS = ("boundary", "threshold", "for_seconds", "name")
_KEYS = (*sorted(f.name for f in dataclasses.fields(stats.ExcessState)), *_ENTRY_KEYS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(_KEYS), value=_JSON, guard=st.integers(0, 3))
def test_any_value_in_a_report_is_accepted_as_a_state_a_test_can_reach_or_refused_in_one_line(tmp_path, key, value,
                                                                                              guard):
    def mutate(doc):
        entry = doc["evidence"]["guards"][guard]
        (entry if key in _ENTRY_KEYS else entry["state"])[key] = value

    try:
        resumed = evidence.read(_report(tmp_path, mutate), CONFIG.guards, CONFIG.alpha)
    except InputError as err:
        assert str(err).startswith("input 'resume-from'") and "\n" not in str(err)
        return
    for g in resumed:
        assert g.test.canary_k <= g.test.canary_n * (1 + 1e-6) + 1e-6 and g.test.looks >= 0
        assert math.isfinite(g.test.log_e()) and g.test.max_log_e >= g.test.log_e()
