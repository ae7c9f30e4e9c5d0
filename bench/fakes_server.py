"""``python -m bench.fakes_server PORT_FILE``: the fake Google Calendar and AiSensy (tests/fakes) in their
own process, so their threads do not share the load generator's interpreter; writes their URLs to PORT_FILE."""

import json
import signal
import sys
import threading
from pathlib import Path

from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar


def main() -> None:
    calendar, aisensy = FakeGoogleCalendar(), FakeAiSensy(api_key="bench-aisensy-key")
    calendar.start()
    aisensy.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    info = {
        "calendar_endpoint": calendar.api_endpoint,
        "token_uri": calendar.token_uri,
        "aisensy_url": aisensy.api_url,
        "aisensy_key": aisensy.api_key,
    }
    target = Path(sys.argv[1])
    target.with_suffix(".tmp").write_text(json.dumps(info))
    target.with_suffix(".tmp").rename(target)
    while not stop.wait(5):
        # The fakes remember every request: forget them now and then so a long run stays small.
        calendar.request_log.clear()
        aisensy.request_log.clear()
        aisensy.messages.clear()
    calendar.stop()
    aisensy.stop()


if __name__ == "__main__":
    main()
