"""A suite may set protocol fields (`protocol_params: {family: {protocol: {field: value}}}`): JMTEB 1.4's
retrieval k values for the v2 suites; bad ones stop the run in one line naming the suite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import compose, plan, plan_tasks
from harness.errors import HarnessError


def _retrieval(suite: str):
    return next(t for t in plan(compose([f"suite={suite}"])).tasks if t.spec.name == "jaqket").params


def test_v2_suites_record_jmteb_1_4s_retrieval_metrics():
    for suite in ("jmteb_v2", "jmteb_lite"):
        params = _retrieval(suite)
        assert params.accuracy_at == (1, 3, 5, 10, 20, 30, 50) and params.max_top_k == 50
        assert params.metric_names() == ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "accuracy@20",
                                         "accuracy@30", "accuracy@50", "ndcg@10", "mrr@50")
    v1 = _retrieval("jmteb_v1")  # JMTEB 1.3.3's defaults
    assert v1.accuracy_at == (1, 3, 5, 10) and v1.metric_names()[-1] == "mrr@10"


def test_suite_fields_do_not_reach_other_protocols():
    tasks = plan(compose(["suite=jmteb_v2", "protocol=mteb", "tasks=[jaqket]"])).tasks
    assert tasks[0].protocol == "mteb" and "accuracy_at" not in tasks[0].params


@pytest.mark.parametrize("protocol_params, needle", [
    ({"retreival": {"jmteb": {}}}, "field 'protocol_params.retreival': unknown family 'retreival'"),
    ({"retrieval": {"jmteeb": {}}}, "field 'protocol_params.retrieval': unknown protocol 'jmteeb'"),
    ({"retrieval": {"jmteb": {"acuracy_at": [1]}}}, "unknown field 'protocol_params.retrieval.jmteb.acuracy_at'"),
    ({"retrieval": {"jmteb": {"accuracy_at": [0]}}}, "field 'accuracy_at' must hold positive integers"),
    ({"retrieval": {"jmteb": {"accuracy_at": "10"}}}, "must be a list of int"),
])
def test_bad_suite_protocol_params_name_the_suite_file(protocol_params, needle):
    suite = {"name": "s", "tasks": ["jaqket"], "protocol_params": protocol_params}
    with pytest.raises(HarnessError) as caught:
        plan_tasks(suite, Path("conf/suite/s.yaml"), "jmteb", None)
    message = str(caught.value)
    assert message.startswith("conf/suite/s.yaml") and needle in message and "\n" not in message
