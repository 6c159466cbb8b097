"""The chat prompt stays bounded however long the session: prompt size and turn latency with
10 and with 3,000 earlier messages.

Run: .venv/bin/python bench/chat_prompt.py
Uses the offline assistant (no network); prints the characters sent to the LLM and the
median turn latency, as ratios of the long session to the short one, measured in one run.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, served_app  # noqa: E402
from plugin.features.sessions.models import Message  # noqa: E402
from plugin.kernel.appkeys import DATABASE, LLM  # noqa: E402

TURNS = 15


async def main() -> None:
    async with served_app() as (client, headers, _):
        llm, database = client.app[LLM], client.app[DATABASE]
        sizes: dict[int, list[int]] = {}
        original = llm.generate

        async def measuring(request):
            sizes.setdefault(current, []).append(sum(len(m["content"]) for m in request.messages))
            return await original(request)

        llm.generate = measuring
        results = {}
        for history in (10, 3000):
            current = history
            s = await (
                await client.post("/api/v1/ai-sessions", json={"title": "bench"}, headers=headers)
            ).json()
            async with database.write() as db:
                for i in range(history):
                    db.add(
                        Message(
                            session_id=s["id"],
                            role="user" if i % 2 == 0 else "assistant",
                            content=f"message {i}: " + "the spooler keeps stopping " * 10,
                        )
                    )
            times = []
            for _ in range(TURNS):
                with Timer() as t:
                    resp = await client.post(
                        f"/api/v1/ai-sessions/{s['id']}/messages",
                        json={"content": "print queue stuck again"},
                        headers=headers,
                    )
                    assert resp.status == 200
                times.append(t.ms)
            results[history] = (statistics.median(sizes[history]), statistics.median(times))
    short, long = results[10], results[3000]
    print(f"chat turn, offline assistant, {TURNS} turns each")
    print(f"  10 earlier messages:    prompt {short[0]:8.0f} chars   turn {short[1]:6.1f} ms")
    print(f"  3,000 earlier messages: prompt {long[0]:8.0f} chars   turn {long[1]:6.1f} ms")
    size_ratio, time_ratio = long[0] / short[0], long[1] / short[1]
    print(f"  ratio long/short:       prompt {size_ratio:8.2f}x        turn {time_ratio:6.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
