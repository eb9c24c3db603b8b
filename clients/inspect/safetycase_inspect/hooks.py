"""The Inspect hook: upload each finished log when SAFETYCASE_URL and SAFETYCASE_TOKEN are set."""

from __future__ import annotations

import json
import os
from logging import getLogger

import anyio
from inspect_ai.hooks import Hooks, RunEnd, TaskEnd, hooks

from safetycase_inspect.upload import UploadError, upload_log

logger = getLogger(__name__)

LATER = "python -m evidence.push LOGDIR --url URL --token TOKEN --watch will deliver it"


@hooks(
    name="safetycase",
    description="Uploads each finished log to the safety-case tracker at SAFETYCASE_URL.",
)
class SafetyCaseUpload(Hooks):
    def __init__(self) -> None:
        self._attempted: set[str] = set()

    def enabled(self) -> bool:
        return bool(os.environ.get("SAFETYCASE_URL") and os.environ.get("SAFETYCASE_TOKEN"))

    async def on_task_end(self, data: TaskEnd) -> None:
        await self._send(data.log.location)

    async def on_run_end(self, data: RunEnd) -> None:
        # Logs whose task end was not seen (or not finished then) go now; the others were sent.
        for log in data.logs:
            await self._send(log.location)

    async def _send(self, location: str | None) -> None:
        if not location or location in self._attempted:
            return
        self._attempted.add(location)
        metadata = None
        raw = os.environ.get("SAFETYCASE_METADATA", "").strip()
        if raw:
            try:
                metadata = json.loads(raw)
            except ValueError:
                metadata = None
            if not isinstance(metadata, dict):
                logger.warning(
                    "safetycase: %s was not uploaded: SAFETYCASE_METADATA is not a JSON object "
                    "(%r); fix it, then %s.",
                    location,
                    raw[:200],
                    LATER,
                )
                return
        try:
            # In a worker thread: a large log must not hold up tasks still running.
            answer = await anyio.to_thread.run_sync(
                lambda: upload_log(
                    location,
                    url=os.environ["SAFETYCASE_URL"],
                    token=os.environ["SAFETYCASE_TOKEN"],
                    metadata=metadata,
                    retries=_retries(),
                )
            )
        except UploadError as exc:
            logger.warning("safetycase: %s was not uploaded: %s; %s.", location, exc, LATER)
            return
        except Exception as exc:  # an upload problem must never fail the evaluation
            logger.warning("safetycase: %s was not uploaded (%r); %s.", location, exc, LATER)
            return
        if answer.get("status") == "failed":
            logger.warning(
                "safetycase: %s was stored as run %s but could not be read: %s",
                location,
                answer.get("id"),
                answer.get("error"),
            )
        else:
            logger.info(
                "safetycase: %s uploaded as run %s (%s): %s",
                location,
                answer.get("id"),
                answer.get("status"),
                answer.get("url"),
            )


def _retries() -> int:
    """SAFETYCASE_RETRIES: how often an upload is retried on connection errors, 5xx and 429."""
    try:
        return max(0, int(os.environ.get("SAFETYCASE_RETRIES", "3")))
    except ValueError:
        return 3
