"""A fake Agora for the channel and call pulls: its channel queries and call analytics over real HTTP (a small
server on a thread, usage.tests.test_client.FakeUpstream), answering with network.agora_shapes' shapes and
holding to Agora's limits (page sizes, the longest windows, 20 sessions a metrics request). Faults are
scripted: `fail(when, *replies)` answers the next requests `when(seen)` picks with those replies, in turn."""

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import unquote

from network import agora_shapes
from usage.tests.test_client import FakeUpstream, Reply, Seen

LIST_SPAN = timedelta(hours=8)
DETAIL_SPAN = timedelta(hours=1)


def ts(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def call(call_id: str, cname: str, start: datetime, end: datetime | None, **figures) -> dict:
    """A call as /call/lists gives it (finished when it has an end)."""
    return {
        "call_id": call_id,
        "cname": cname,
        "created_ts": ts(start),
        "destroyed_ts": ts(end),
        "finished": end is not None,
        "call_pcu": figures.get("pcu", 2),
        "call_acu": figures.get("acu", 3),
        "call_audio_freeze_rate": figures.get("audio", 0.01),
        "call_video_freeze_rate": figures.get("video", 0.02),
    }


def session(sid: str, uid: int, cname: str, join: datetime, leave: datetime | None, **more) -> dict:
    return {
        "sid": sid,
        "cname": cname,
        "uid": uid,
        "account": more.get("account", f"user-{uid}"),
        "network": "Wi-Fi",
        "platform": "Android",
        "speaker": True,
        "roles": ["HOST"],
        "sdk_version": "4.3.0",
        "device_type": more.get("device_type", "Pixel 7"),
        "join_ts": ts(join),
        "leave_ts": ts(leave),
        "finished": leave is not None,
        "user_audio_freeze_rate": 0.002,
        "user_video_freeze_rate": 0.015,
    }


class FakeAgora:
    def __init__(self):
        # app id -> channel name -> {"hosts": [...], "audience": [...], "users": [...]} or {"raw": answer data}
        self.channels: dict[str, dict[str, dict]] = {}
        self.calls: dict[str, list[dict]] = {}  # app id -> calls
        self.sessions: dict[str, list[dict]] = {}  # call id -> sessions
        self.metrics: dict[str, list[tuple[int, int, list]]] = {}  # sid -> [(mid, peer uid, points)]
        self.faults: list[list] = []  # [when, replies left]
        self.server = FakeUpstream(self)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    def close(self) -> None:
        self.server.close()

    def fail(self, when: Callable[[Seen], bool], *replies: Reply) -> None:
        self.faults.append([when, list(replies)])

    def asked(self, path_part: str) -> list[Seen]:
        return [seen for seen in self.seen if path_part in seen.path]

    # Answers --------------------------------------------------------------------------------------------

    def __call__(self, seen: Seen) -> Reply:
        for fault in self.faults:
            when, replies = fault
            if replies and when(seen):
                return replies.pop(0)
        parts = [unquote(part) for part in seen.path.strip("/").split("/")]
        if parts[:3] == ["dev", "v1", "channel"] and len(parts) == 4:
            return self.channel_list(parts[3], seen.query)
        if parts[:4] == ["dev", "v1", "channel", "user"] and len(parts) == 6:
            return self.channel_users(parts[4], parts[5])
        if parts[:3] == ["beta", "analytics", "call"] and len(parts) == 4:
            return getattr(self, f"call_{parts[3]}")(seen.query)
        return Reply(404, {"message": "no such API"})

    def channel_list(self, app_id: str, query: dict) -> Reply:
        page_no, page_size = int(query.get("page_no", 0)), int(query.get("page_size", 100))
        if not 1 <= page_size <= agora_shapes.CHANNEL_PAGE_SIZE[1]:
            return Reply(400, {"message": "page_size out of range"})
        channels = self.channels.get(app_id, {})
        names = sorted(channels)
        rows = [(name, self.user_count(channels[name])) for name in names]
        return Reply(body=agora_shapes.channel_list_answer(rows[page_no * page_size :][:page_size], len(rows)))

    @staticmethod
    def user_count(channel: dict) -> int:
        if "raw" in channel:
            data = channel["raw"]
            return len(data.get("broadcasters", [])) + data.get("audience_total", 0) + data.get("total", 0)
        return sum(len(channel.get(key, [])) for key in ("hosts", "audience", "users"))

    def channel_users(self, app_id: str, channel_name: str) -> Reply:
        channel = self.channels.get(app_id, {}).get(channel_name, {})
        if "raw" in channel:
            return Reply(body={"success": True, "data": channel["raw"]})
        answer = agora_shapes.channel_users_answer(
            list(channel.get("hosts", [])), list(channel.get("audience", [])), list(channel.get("users", []))
        )
        return Reply(body=answer)

    @staticmethod
    def window(query: dict, longest: timedelta) -> tuple[int, int] | Reply:
        start, end = int(query["start_ts"]), int(query["end_ts"])
        if end - start > longest.total_seconds():
            return Reply(body={"code": 300, "message": "query time length limit error"})
        return start, end

    @staticmethod
    def page(rows: list, query: dict) -> tuple[list, int, int]:
        page_no, page_size = int(query.get("page_no", 1)), int(query.get("page_size", 20))
        return rows[(page_no - 1) * page_size :][:page_size], page_no, page_size

    def call_lists(self, query: dict) -> Reply:
        window = self.window(query, LIST_SPAN)
        if isinstance(window, Reply):
            return window
        start, end = window
        calls = [
            c
            for c in self.calls.get(query["appid"], [])
            if c["created_ts"] < end and (not c["destroyed_ts"] or c["destroyed_ts"] >= start)
        ]
        calls.sort(key=lambda c: -c["created_ts"])
        rows, page_no, page_size = self.page(calls, query)
        answer = agora_shapes.call_list_answer(rows, total=len(calls), page_no=page_no, page_size=page_size)
        return Reply(body={**answer, "code": 0})  # the list's example says 0

    def call_sessions(self, query: dict) -> Reply:
        window = self.window(query, DETAIL_SPAN)
        if isinstance(window, Reply):
            return window
        start, end = window
        sessions = [
            s
            for s in self.sessions.get(query["call_id"], [])
            if s["join_ts"] < end and (not s["leave_ts"] or s["leave_ts"] >= start)
        ]
        rows, page_no, page_size = self.page(sessions, query)
        body = agora_shapes.sessions_answer(rows, total=len(sessions), page_no=page_no, page_size=page_size)
        del body["has_more"]  # Agora's example has none: the pages end by total_size
        return Reply(body=body)

    def call_metrics(self, query: dict) -> Reply:
        window = self.window(query, DETAIL_SPAN)
        if isinstance(window, Reply):
            return window
        start, end = window
        sids = [sid for sid in query.get("sids", "").split(",") if sid]
        if len(sids) > agora_shapes.MAX_METRIC_SIDS:
            return Reply(400, {"message": "too many sids"})
        series = {
            sid: [
                (mid, peer, [point for point in points if start <= point[0] <= end])
                for mid, peer, points in self.metrics.get(sid, [])
            ]
            for sid in sids
        }
        return Reply(body=agora_shapes.metrics_answer(series))
