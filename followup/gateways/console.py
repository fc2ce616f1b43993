"""The default gateway: prints each SMS on the console and records it as sent.

Used when no Twilio credentials are set, so a newcomer sees the whole pipeline work on their
own machine without an account. The number is masked as in every log line.
"""

from __future__ import annotations

import sys
import threading
import uuid
from datetime import datetime
from typing import TextIO

from followup.gateways.base import OutgoingSms, SendResult
from followup.phones import mask_phone
from followup.texts.segments import analyze


class ConsoleGateway:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, sms: OutgoingSms) -> SendResult:
        info = analyze(sms.body)
        sender = sms.messaging_service_sid or sms.from_number or "default sender"
        unit = "segment" if info.segments == 1 else "segments"
        text = (
            f"--- SMS to {mask_phone(sms.to)} from {sender} "
            f"({info.segments} {unit}, {info.encoding}, {info.characters} chars)\n"
            f"{sms.body}\n"
        )
        with self._lock:
            out = self.stream or sys.stdout
            out.write(text)
            out.flush()
        return SendResult(provider_sid=f"CONSOLE{uuid.uuid4().hex}", provider_status="sent")

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """The console keeps no record, so a text interrupted by a crash is printed again."""
        return None
