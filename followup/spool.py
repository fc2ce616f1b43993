"""The inbound spool: verified replies the database could not take, one file each, until
they are filed.

Why files: when the database is locked or down, the webhook must still keep what the
patient wrote (Twilio's retry of a 500 or a timeout is no guarantee) and answer within
Twilio's 15 seconds. A local directory is the one store that does not share the database's
trouble. It holds only what Twilio sent, when it arrived and what we answered, and knows
nothing of the database: :mod:`followup.inbound.drain` files the replies through the normal
``receive`` later.

The files hold a patient's words and number, so the directory is made 0700 and each file
0600. A file is written under a temporary name, flushed to disk (``fsync``), then linked to
its final name ``<MessageSid>.json``, which fails when that name exists: one file per
MessageSid, so Twilio's retry of the same message finds the first file (and its answer)
instead of making a second. The directory is synced after, so the name survives a crash.

Claims use ``fcntl.flock`` on the file (:meth:`Spool.claim`): two processes never file one
reply twice, and a process that dies lets go of its claims with it, so nothing is left
claimed forever. A file that cannot be read is renamed to ``<name>.bad`` and left for a
person (``followup spool``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".json"
BAD_SUFFIX = ".bad"
FORMAT = 1
#: a MessageSid as the webhook accepts it (:mod:`followup.web.webhook_fields`); anything
#: else never names a file
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


class SpoolError(Exception):
    """The spool cannot keep a reply (disk full, directory unwritable). The message names
    the file and the system's reason, never the reply."""


class BadFile(Exception):
    """A spooled file that cannot be read back as a reply."""


@dataclass(frozen=True)
class SpooledReply:
    """What Twilio sent (the fields of ``receive.InboundSms``), when it arrived, and the
    answer the patient was given (``reply_key`` and ``reply_body`` None: not answered)."""

    sid: str
    from_number: str
    to_number: str | None
    messaging_service_sid: str | None
    body: str
    num_media: int
    opt_out_type: str | None
    received_at: datetime
    reply_key: str | None
    reply_body: str | None

    def to_json(self) -> bytes:
        data = {"format": FORMAT, **asdict(self), "received_at": self.received_at.isoformat()}
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> SpooledReply:
        """Read a file's bytes back; :class:`BadFile` for anything that is not a reply."""
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
                raise BadFile("not a spooled reply of this format")
            received = datetime.fromisoformat(data.pop("received_at"))
            if received.tzinfo is None:
                raise BadFile("arrival time without a time zone")
            reply = cls(received_at=received, **data)
        except BadFile:
            raise
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise BadFile(type(exc).__name__) from None
        strings = (reply.sid, reply.from_number, reply.body)
        if not all(isinstance(v, str) for v in strings) or not isinstance(reply.num_media, int):
            raise BadFile("a field of the wrong type")
        if not _SID.match(reply.sid):
            raise BadFile("not a MessageSid")
        return reply


@dataclass
class Claim:
    """A spooled file this process holds (``flock``); :meth:`done` deletes it once its
    reply is filed, :meth:`set_aside` renames it ``.bad``."""

    path: Path
    reply: SpooledReply | None
    #: why the file could not be read, when ``reply`` is None
    problem: str | None = None

    def done(self) -> None:
        """The reply is in the database (committed): the file may go."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def set_aside(self, why: str) -> Path:
        """Keep the file for a person under a ``.bad`` name; it is drained no more."""
        target = self.path.with_name(self.path.name + BAD_SUFFIX)
        os.replace(self.path, target)
        log.error("spooled file %s set aside as %s: %s", self.path.name, target.name, why)
        return target


class Spool:
    """The directory of replies waiting to be filed (``FOLLOWUP_SPOOL_DIR``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_of(self, sid: str) -> Path:
        if not _SID.match(sid):
            raise SpoolError("not a MessageSid")
        return self.directory / f"{sid}{SUFFIX}"

    def find(self, sid: str) -> SpooledReply | None:
        """The reply with this MessageSid, while it waits in the spool (a retry by Twilio)."""
        try:
            return SpooledReply.from_json(self.path_of(sid).read_bytes())
        except (FileNotFoundError, NotADirectoryError, BadFile, SpoolError):
            return None

    def keep(self, reply: SpooledReply) -> SpooledReply:
        """Write ``reply`` durably, once per MessageSid; return what the spool holds for it
        (the first file's reply when Twilio sent this message before). :class:`SpoolError`
        when it cannot be written."""
        final = self.path_of(reply.sid)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            temp = self.directory / f".tmp-{reply.sid}-{os.getpid()}-{os.urandom(4).hex()}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                data = reply.to_json()
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, final)  # never replaces: the first file of a MessageSid stays
            except FileExistsError:
                pass
            finally:
                temp.unlink()
            self._sync_directory()
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                temp.unlink()
            reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
            raise SpoolError(f"cannot write {final.name} in {self.directory}: {reason}") from None
        return self.find(reply.sid) or reply

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def waiting(self) -> list[Path]:
        """The files waiting, oldest first (by when each was written: its arrival)."""
        try:
            entries = [
                e
                for e in os.scandir(self.directory)
                if e.name.endswith(SUFFIX) and not e.name.startswith(".")
            ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for e in entries:
            with contextlib.suppress(FileNotFoundError):
                found.append((e.stat().st_mtime_ns, e.name))
        return [self.directory / name for _, name in sorted(found)]

    def set_aside_files(self) -> list[Path]:
        """The files set aside as unreadable (``.bad``)."""
        try:
            return sorted(self.directory.glob(f"*{BAD_SUFFIX}"))
        except OSError:
            return []

    @contextlib.contextmanager
    def claim(self, path: Path) -> Iterator[Claim | None]:
        """Hold ``path`` for the time of the block: None when another process holds it or
        it is gone (filed meanwhile). The claim ends with the block, or with the process."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            # filed and deleted by the process that held it before us
            if os.fstat(fd).st_nlink == 0:
                yield None
                return
            raw = b""
            while chunk := os.read(fd, 65536):
                raw += chunk
            try:
                claim = Claim(path, SpooledReply.from_json(raw))
            except BadFile as why:
                claim = Claim(path, None, str(why))
            yield claim
        finally:
            os.close(fd)  # lets go of the flock
