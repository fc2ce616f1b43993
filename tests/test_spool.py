"""The spool's files: durable, private, one per MessageSid, claimed by one process at a time."""

from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from followup.spool import BadFile, Spool, SpooledReply, SpoolError

SID = "SM" + "a" * 32


def reply(sid: str = SID, **changes) -> SpooledReply:
    base = SpooledReply(
        sid=sid,
        from_number="+12015550201",
        to_number="+12015550111",
        messaging_service_sid=None,
        body="chest pain ñ 😀",
        num_media=0,
        opt_out_type=None,
        received_at=datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
        reply_key="reply_kept_urgent",
        reply_body="Call 911 now.",
    )
    return replace(base, **changes)


def test_a_kept_reply_reads_back_the_same_from_a_private_file(tmp_path):
    spool = Spool(tmp_path / "spool")
    kept = spool.keep(reply())
    assert kept == reply() and spool.find(SID) == reply()
    (path,) = spool.waiting()
    assert path.name == f"{SID}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.directory.stat().st_mode) == 0o700
    assert os.listdir(spool.directory) == [path.name]  # no temporary file left


def test_one_file_per_message_sid_and_the_first_answer_stays(tmp_path):
    spool = Spool(tmp_path)
    spool.keep(reply())
    again = spool.keep(reply(reply_body="another text", body="retry"))
    assert again == reply()  # what the patient was told the first time
    assert len(spool.waiting()) == 1 and spool.find(SID) == reply()


def test_the_files_wait_oldest_first(tmp_path):
    spool = Spool(tmp_path)
    sids = [f"SM{i:032x}" for i in (9, 3, 7)]
    for sid in sids:
        spool.keep(reply(sid))
    assert [p.stem for p in spool.waiting()] == sids


def test_a_spool_that_cannot_be_written_says_why_without_the_reply(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpoolError) as caught:
        Spool(blocker / "spool").keep(reply())
    assert "chest" not in str(caught.value) and "5550201" not in str(caught.value)


def test_a_full_disk_leaves_no_half_written_file(tmp_path, monkeypatch):
    spool = Spool(tmp_path)

    def full(_fd, _data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(SpoolError, match="No space left"):
        spool.keep(reply())
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [] and spool.find(SID) is None


def test_a_claimed_file_is_not_claimed_twice(tmp_path):
    spool = Spool(tmp_path)
    spool.keep(reply())
    (path,) = spool.waiting()
    with spool.claim(path) as first:
        assert first is not None and first.reply == reply()
        with spool.claim(path) as second:
            assert second is None
        first.done()
    with spool.claim(path) as after:  # filed and gone
        assert after is None


def test_a_file_filed_after_another_drainer_opened_it_is_not_filed_again(tmp_path, monkeypatch):
    """The second drainer opened the file while the first held it; the first files it,
    deletes it and lets go before the second's lock: the second must see it is gone."""
    spool = Spool(tmp_path)
    spool.keep(reply())
    (path,) = spool.waiting()
    first = spool.claim(path)
    held = first.__enter__()
    real_flock = fcntl.flock

    def first_finishes_then_lock(fd, operation):
        held.done()
        first.__exit__(None, None, None)
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", first_finishes_then_lock)
    with spool.claim(path) as late:
        assert late is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'{"format": 2}',
        reply().to_json().replace(b"+00:00", b""),  # an arrival time without a zone
        reply().to_json().replace(SID.encode(), b"../../etc/passwd"),
        reply().to_json().replace(b'"num_media": 0', b'"num_media": "0"'),
        b"\xff\xfe",
    ],
)
def test_what_is_not_a_spooled_reply_is_refused(raw):
    with pytest.raises(BadFile):
        SpooledReply.from_json(raw)


def test_a_bad_file_is_set_aside_under_a_bad_name(tmp_path):
    spool = Spool(tmp_path)
    path = tmp_path / f"{SID}.json"
    path.write_bytes(b"garbage")
    with spool.claim(path) as claim:
        assert claim is not None and claim.reply is None and claim.problem
        claim.set_aside(claim.problem)
    assert spool.waiting() == [] and [p.name for p in spool.set_aside_files()] == [
        f"{SID}.json.bad"
    ]


def test_a_missing_spool_waits_for_nothing_and_is_not_created(tmp_path):
    spool = Spool(tmp_path / "never")
    assert spool.waiting() == [] and spool.find(SID) is None
    assert not (tmp_path / "never").exists()
