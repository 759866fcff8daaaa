from __future__ import annotations

from pathlib import Path

import pytest
from delivery_receivers import Cert, Receiver

from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import BatchMeta, DeadLetterStore, SendResult, make_sender
from netlogpush.logpush.destinations import parse_destination_conf


def meta(first: int, n: int) -> BatchMeta:
    raw = b"".join(b'{"TCPSequenceNumber":%d}\n' % i for i in range(first, first + n))
    return BatchMeta("job-a", raw, n, first, first + n - 1, 5, 6, 7)


def put(store: DeadLetterStore, first: int, n: int, now: int) -> None:
    m = meta(first, n)
    store.put(gzip_bytes(m.raw), m, reason="rejected",
              result=SendResult(False, False, 400, "HTTP 400: bad"), attempts=1, now_ns=now)


def test_put_list_inspect_count(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path, "job-a")
    put(store, 1, 3, 100)
    put(store, 4, 2, 200)
    letters = store.entries()
    assert [(d.first_seq, d.last_seq, d.records, d.status, d.reason) for d in letters] == [
        (1, 3, 3, 400, "rejected"), (4, 5, 2, 400, "rejected")]
    assert store.count() == (2, 5)
    assert store.raw(letters[1].entry_id) == meta(4, 2).raw
    # a second store on the same directory (a restart) sees the same entries
    assert DeadLetterStore(tmp_path, "job-a").count() == (2, 5)
    assert DeadLetterStore(tmp_path, "job-b").count() == (0, 0)


def test_incomplete_entries_are_not_listed(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path, "job-a")
    put(store, 1, 3, 100)
    # a crash between the body and the metadata leaves a body and a .tmp, no entry
    (store.dir / "00000000000000000200-4-5-9.log.gz").write_bytes(b"x")
    (store.dir / "00000000000000000200-4-5-9.json.tmp").write_bytes(b"{")
    assert store.count() == (1, 3)
    put(store, 6, 1, 300)
    assert not list(store.dir.glob("*.tmp"))


def test_bad_ids_refused(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path, "job-a")
    with pytest.raises(KeyError):
        store.body("../../etc/passwd")
    with pytest.raises(ValueError):
        DeadLetterStore(tmp_path, "../x")


def test_replay_to_a_real_receiver(tmp_path: Path, https_receiver: Receiver,
                                   tls_cert: Cert) -> None:
    store = DeadLetterStore(tmp_path, "job-a")
    put(store, 1, 3, 100)
    put(store, 4, 2, 200)
    sender = make_sender(parse_destination_conf(f"https://127.0.0.1:{https_receiver.port}/in"),
                         verify=str(tls_cert.cert))
    https_receiver.script.append((500, b"still down"))
    first = store.replay(sender)
    assert (first.replayed, first.replayed_records, first.failed) == (1, 2, 1)
    assert "500" in first.last_error
    assert store.count() == (1, 3)
    second = store.replay(sender)
    assert (second.replayed, second.replayed_records, second.failed) == (1, 3, 0)
    assert store.count() == (0, 0)
    assert sorted(https_receiver.records()) == [1, 2, 3, 4, 5]
