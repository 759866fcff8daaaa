"""…/jobs/{job_id}/deadletters, …/deadletters/replay and …/jobs/{job_id}/metrics."""

from __future__ import annotations

import gzip
from pathlib import Path

from api_support import ACCOUNT_A, ACCOUNT_B, Env
from fastapi.testclient import TestClient

from netlogpush.api import create_app, create_token
from netlogpush.api.app import ApiState
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import BatchMeta, DeadLetterStore, JobMetrics, SendResult


def put(data_dir: Path, job_id: int, first: int, n: int, now: int) -> str:
    raw = b"".join(b'{"TCPSequenceNumber":%d}\n' % i for i in range(first, first + n))
    meta = BatchMeta(str(job_id), raw, n, first, first + n - 1, 1_700_000_000 * 10**9, 6, 7)
    store = DeadLetterStore(data_dir / "deadletter", str(job_id))
    return store.put(gzip_bytes(raw), meta, reason="exhausted",
                     result=SendResult(False, True, 503, "HTTP 503: busy"),
                     attempts=9, now_ns=now).entry_id  # fmt: skip


def local_job(env: Env, out: Path) -> int:
    job_id = env.create(destination_conf=f"file://{out}")["id"]
    assert isinstance(job_id, int)
    return job_id


def url(job_id: int, tail: str, account: str = ACCOUNT_A) -> str:
    return f"/client/v4/accounts/{account}/logpush/jobs/{job_id}/{tail}"


def test_list_and_replay(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    job_id = local_job(env, out)
    e1 = put(env.data_dir, job_id, 1, 3, 1_700_000_000_000_000_000)
    e2 = put(env.data_dir, job_id, 4, 2, 1_700_000_060_000_000_000)
    r = env.client.get(url(job_id, "deadletters"), headers=env.h(env.write_a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["errors"] == []
    assert [(e["id"], e["time"], e["records"], e["reason"], e["status"], e["attempts"])
            for e in body["result"]] == [
        (e1, "2023-11-14T22:13:20Z", 3, "exhausted", 503, 9),
        (e2, "2023-11-14T22:14:20Z", 2, "exhausted", 503, 9)]  # fmt: skip

    r = env.client.post(url(job_id, "deadletters/replay"), headers=env.h(env.write_a),
                        json={"entries": [e2, "1-1-1-1"]})  # fmt: skip
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert [d["id"] for d in result["delivered"]] == [e2]
    assert result["delivered_records"] == 2 and result["missing"] == ["1-1-1-1"]
    assert result["failed"] == []
    lines = [gzip.decompress(f.read_bytes()) for f in out.rglob("*.log.gz")]
    assert lines == [b'{"TCPSequenceNumber":4}\n{"TCPSequenceNumber":5}\n']

    r = env.client.post(url(job_id, "deadletters/replay"), headers=env.h(env.write_a))
    assert [d["id"] for d in r.json()["result"]["delivered"]] == [e1]
    r = env.client.get(url(job_id, "deadletters"), headers=env.h(env.write_a))
    assert r.json()["result"] == []


def test_access_rules(env: Env, tmp_path: Path) -> None:
    job_id = local_job(env, tmp_path / "out")
    put(env.data_dir, job_id, 1, 3, 100)
    for method, tail in (("get", "deadletters"), ("post", "deadletters/replay"),
                         ("get", "metrics")):  # fmt: skip
        call = getattr(env.client, method)
        assert call(url(job_id, tail)).status_code == 401
        r = call(url(job_id, tail), headers=env.h(env.read_a))  # Logs Read is not enough
        assert (r.status_code, r.json()["errors"][0]["code"]) == (403, 10000)
        r = call(url(job_id, tail), headers=env.h(env.write_b))  # another account's token
        assert r.status_code == 403
        r = call(url(job_id, tail, ACCOUNT_B), headers=env.h(env.write_b))  # not B's job
        assert (r.status_code, r.json()["result"]) == (404, None)
        r = call(url(job_id + 1, tail), headers=env.h(env.write_a))
        assert r.status_code == 404
    r = env.client.post(url(job_id, "deadletters/replay"), headers=env.h(env.write_a),
                        json={"entries": "all"})  # fmt: skip
    assert r.status_code == 400 and r.json()["errors"][0]["message"].startswith("entries:")
    # nothing was replayed by any refused call
    r = env.client.get(url(job_id, "deadletters"), headers=env.h(env.write_a))
    assert len(r.json()["result"]) == 1


def test_metrics_without_and_with_a_running_job(tmp_path: Path) -> None:
    token = create_token(tmp_path, ACCOUNT_A, ["logs:write"])
    live = JobMetrics()
    live.add(uploads=4, records_delivered=1000, bytes_compressed=321)
    live.set(lag=17)
    state = ApiState(tmp_path)
    running: dict[str, JobMetrics] = {}
    state.metrics_provider = lambda jid: running[jid].snapshot() if jid in running else None
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(state)) as client:
        r = client.post(f"/client/v4/accounts/{ACCOUNT_A}/logpush/jobs", headers=headers,
                        json={"dataset": "network_analytics_logs",
                              "destination_conf": f"file://{tmp_path}/out"})  # fmt: skip
        job_id = r.json()["result"]["id"]
        put(tmp_path, job_id, 1, 3, 100)
        r = client.get(url(job_id, "metrics"), headers=headers)
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert result["job_id"] == job_id and result["running"] is False
        assert set(result["counters"].values()) == {0} and len(result["counters"]) == 12
        assert result["deadletter"] == {"batches": 1, "records": 3}
        running[str(job_id)] = live
        result = client.get(url(job_id, "metrics"), headers=headers).json()["result"]
        assert result["running"] is True
        assert result["counters"]["uploads"] == 4
        assert result["counters"]["records_delivered"] == 1000
        assert result["counters"]["bytes_compressed"] == 321
        assert result["counters"]["lag"] == 17
