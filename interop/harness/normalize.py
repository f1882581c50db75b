"""Normalisation of outputs that legitimately differ between two servers.

Replaced: zxids (by first-appearance tokens z1, z2, ... so equalities such as
cZxid == mZxid survive), session ids (s1, s2, ...; 0 stays 0x0), ctime/mtime
dates, server ports, and zkCli noise (slf4j/log4j lines, banner, connection
state events). Kept verbatim: data, versions, cversion, dataLength,
numChildren, error messages, node names (sequence suffixes included), event
types and paths.
"""

from __future__ import annotations

import re


class Normalizer:
    """Per scenario run (one per server), so tokens restart for each side."""

    def __init__(self, ports: tuple[int, ...] = ()):
        self._zxids: dict[int, str] = {}
        self._sessions: dict[int, str] = {}
        self.ports = ports

    def zxid(self, value: int) -> str:
        if value not in self._zxids:
            self._zxids[value] = f"z{len(self._zxids) + 1}"
        return self._zxids[value]

    def session(self, value: int) -> str:
        if value == 0:
            return "0x0"
        if value not in self._sessions:
            self._sessions[value] = f"s{len(self._sessions) + 1}"
        return self._sessions[value]

    def text(self, line: str) -> str:
        """Generic clean-up of free text: server ports."""
        for port in self.ports:
            line = re.sub(rf"(?<![0-9]){port}(?![0-9])", "<port>", line)
        return line

    def stat(self, st) -> str:
        """A kazoo ZnodeStat (or None) as one comparable line."""
        if st is None:
            return "stat=None"
        return (
            f"czxid={self.zxid(st.czxid)} mzxid={self.zxid(st.mzxid)} "
            f"pzxid={self.zxid(st.pzxid)} version={st.version} "
            f"cversion={st.cversion} aversion={st.aversion} "
            f"ephemeralOwner={'0' if st.ephemeralOwner == 0 else 'nonzero'} "
            f"dataLength={st.dataLength} numChildren={st.numChildren}"
        )


# --- zkCli -----------------------------------------------------------------

ZKCLI_NOISE = [
    re.compile(r"^SLF4J: "),
    re.compile(r"^log4j:"),
    re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d"),  # timestamped log lines
    re.compile(r"^\[[^\]]*\] (TRACE|DEBUG|INFO|WARN|ERROR) "),  # slf4j-simple
    re.compile(r"^Connecting to "),
    re.compile(r"^Welcome to ZooKeeper!$"),
    re.compile(r"^JLine support is (disabled|enabled)$"),
    re.compile(r"^WATCHER::$"),
    re.compile(r"^WatchedEvent state:\S+ type:None path:null$"),
    re.compile(r"^\s*$"),
]

ZXID_LINE = re.compile(r"^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$")
TIME_LINE = re.compile(r"^(ctime|mtime) = .+$")
OWNER_LINE = re.compile(r"^ephemeralOwner = (0x[0-9a-fA-F]+)$")
WATCHED_EVENT = re.compile(r"^WatchedEvent state:\S+ type:\S+ path:\S*$")

# Commands whose printed list has no specified order (the server's choice):
# their `[a, b, c]` output is sorted. `ls` and `ls -R` sort on the client.
UNORDERED_LIST_COMMANDS = ("getEphemerals",)
LIST_LINE = re.compile(r"^\[(.*)\]$")

# zkCli prints this for the `printwatches` command we put before every
# command, so the output can be split into one block per command.
ZKCLI_MARKER = "printwatches is on"


def zkcli_line(norm: Normalizer, line: str) -> str | None:
    """One line of zkCli output, normalised; None if it is noise."""
    line = line.rstrip("\r\n")
    for pat in ZKCLI_NOISE:
        if pat.search(line):
            return None
    m = ZXID_LINE.match(line)
    if m:
        return f"{m.group(1)} = {norm.zxid(int(m.group(2), 16))}"
    m = TIME_LINE.match(line)
    if m:
        return f"{m.group(1)} = <time>"
    m = OWNER_LINE.match(line)
    if m:
        return f"ephemeralOwner = {norm.session(int(m.group(1), 16))}"
    return norm.text(line)


def zkcli_transcript(norm: Normalizer, commands: list[str], raw: str) -> list[str]:
    """Turn raw zkCli output (stdout+stderr, with a marker printed before each
    command) into `$ command` headers followed by that command's output.

    Watch notifications are printed asynchronously by zkCli's event thread, so
    they are pulled out of the stream and listed, in arrival order, at the end.
    """
    events: list[str] = []
    blocks: list[list[str]] = [[]]  # block 0: output before the first marker
    for raw_line in raw.splitlines():
        if raw_line.strip() == ZKCLI_MARKER:
            blocks.append([])
            continue
        if WATCHED_EVENT.match(raw_line.strip()) and "type:None" not in raw_line:
            events.append("event: " + norm.text(raw_line.strip()))
            continue
        line = zkcli_line(norm, raw_line)
        if line is not None:
            blocks[-1].append(line)
    out: list[str] = []
    if blocks[0]:
        out.append("(before first command)")
        out.extend(blocks[0])
    for i, block in enumerate(blocks[1:]):
        cmd = commands[i] if i < len(commands) else "(unexpected extra block)"
        if cmd.split(" ", 1)[0] in UNORDERED_LIST_COMMANDS:
            block = [_sorted_list(line) for line in block]
        out.append(f"$ {cmd}")
        out.extend("  " + line for line in block)
    if len(blocks) - 1 != len(commands):
        out.append(f"(saw {len(blocks) - 1} command blocks for {len(commands)} commands)")
    out.extend(events)
    return out


def _sorted_list(line: str) -> str:
    m = LIST_LINE.match(line)
    if not m or not m.group(1):
        return line
    return "[" + ", ".join(sorted(m.group(1).split(", "))) + "] (sorted)"
