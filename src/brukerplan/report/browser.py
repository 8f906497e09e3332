"""A headless Chromium from the distribution, driven over the DevTools protocol through a pipe
(--remote-debugging-pipe: JSON messages separated by NUL on file descriptors 3 and 4). One long-lived
browser serves many pages: print to PDF, take screenshots and collect console errors and network requests.
No extra dependency and no browser download: only /usr/bin/chromium (apt package `chromium`)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
    # every tab renders at full speed although only one is in front (PDFs are printed by several tabs at once)
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)
TIMEOUT = 60.0


class BrowserError(RuntimeError):
    """Chromium is missing, died, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium binary: BRUKERPLAN_CHROMIUM, else the first of the usual names on PATH."""
    explicit = os.environ.get("BRUKERPLAN_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None


class Chromium:
    """One headless browser process. Use as a context manager; `tab()` opens a page target."""

    def __init__(self, binary: str | None = None, window: tuple[int, int] = (1200, 900)) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("Chromium not found (install the `chromium` package or set BRUKERPLAN_CHROMIUM)")
        self.window = window
        self._next_id = 0
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._events: dict[str, Queue[dict[str, Any]]] = {}
        self._closed = False

    def __enter__(self) -> Chromium:
        # Chromium's profile holds Unix sockets, whose paths must stay under 108 bytes: a deep TMPDIR falls back
        base = tempfile.gettempdir()
        self._profile = tempfile.mkdtemp(prefix="brukerplan-chromium-", dir=base if len(base) <= 60 else "/tmp")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()

        def wire() -> None:  # runs in the child before exec: the pipe ends become fds 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        args = [
            self.binary,
            *FLAGS,
            f"--user-data-dir={self._profile}",
            f"--window-size={self.window[0]},{self.window[1]}",
        ]
        self._process = subprocess.Popen(
            [*args, "about:blank"],
            preexec_fn=wire,
            pass_fds=(3, 4),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._writer = os.fdopen(to_child_w, "wb", buffering=0)
        self._reader = os.fdopen(from_child_r, "rb", buffering=0)
        self._thread = threading.Thread(target=self._read_loop, name="chromium-reader", daemon=True)
        self._thread.start()
        self.version = self.call("Browser.getVersion").get("product", "")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(BrowserError):
            self.call("Browser.close", timeout=5)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for handle in (self._writer, self._reader):
            with contextlib.suppress(OSError):
                handle.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol ------------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._reader.read(1 << 16)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, _, buffer = buffer.partition(b"\0")
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        pending = self._pending.pop(message["id"], None)
                    if pending is not None:
                        pending.reply = message
                        pending.done.set()
                elif "sessionId" in message:
                    queue = self._events.get(message["sessionId"])
                    if queue is not None:
                        queue.put(message)
        with self._lock:  # the browser is gone: wake every waiter
            for pending in self._pending.values():
                pending.done.set()
            self._pending.clear()

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            pending = self._pending[message_id] = _Pending()
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            self._writer.write(json.dumps(message).encode() + b"\0")
        except (OSError, ValueError) as exc:
            raise BrowserError(f"Chromium is not running ({method}): {exc}") from exc
        if not pending.done.wait(timeout):
            raise BrowserError(f"Chromium did not answer {method} within {timeout:.0f} s")
        reply = pending.reply
        if reply is None:
            raise BrowserError(f"Chromium exited during {method}")
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def tab(self) -> Tab:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._events[session] = Queue()
        tab = Tab(self, target, session, self._events[session])
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        return tab


@dataclass
class Tab:
    browser: Chromium
    target: str
    session: str
    events: Queue[dict[str, Any]]
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def _note(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console_errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console_errors.append(f"exception: {details.get('exception', {}).get('description') or details}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            self.requests.append(str(params.get("request", {}).get("url", "")))

    def drain(self) -> None:
        while True:
            try:
                self._note(self.events.get_nowait())
            except Empty:
                return

    def open(self, url: str, timeout: float = TIMEOUT) -> None:
        """Navigate and wait for the load event; console errors and requests are collected on the way."""
        self.drain()
        self._call("Page.navigate", {"url": url})
        while True:
            try:
                message = self.events.get(timeout=timeout)
            except Empty as exc:
                raise BrowserError(f"{url} did not finish loading within {timeout:.0f} s") from exc
            self._note(message)
            if message.get("method") == "Page.loadEventFired":
                return

    def evaluate(self, expression: str) -> Any:
        result = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def pdf(self, path: Path) -> None:
        path.write_bytes(self.pdf_bytes())

    def pdf_bytes(self) -> bytes:
        data = self._call(
            "Page.printToPDF",
            {
                "printBackground": True,
                "preferCSSPageSize": True,
                "displayHeaderFooter": False,
                "generateTaggedPDF": False,  # about a third faster; the HTML page is the accessible version
                "generateDocumentOutline": False,
            },
        )["data"]
        return base64.b64decode(data)

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            metrics = self._call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        path.write_bytes(base64.b64decode(self._call("Page.captureScreenshot", params)["data"]))

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})
        self.browser._events.pop(self.session, None)
