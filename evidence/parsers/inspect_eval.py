"""Inspect `.eval` logs: a ZIP archive of JSON members (reference/eval-formats.md §2.2).

Members are Zstandard-compressed (ZIP method 93) since inspect-ai 0.3.206, deflated (8) before;
stored (0) is accepted too. Large zstd members are written as several frames, which the
`zipfile-zstd` patch for the standard `zipfile` module does not read (it stops after the first
frame and fails the CRC check), so members are inflated here with `zstandard` directly, across
frames, and never beyond their declared size. `zipfile` is only used to read the central
directory.

Reading order: central directory (limits checked before anything is inflated), `header.json`,
then the `samples/*.json` members one at a time, sorted like Inspect sorts samples
(epoch, then id). Duplicate member names (a retried sample appended again) resolve to the last
entry, as in Inspect.
"""

from __future__ import annotations

import functools
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import zstandard

from ._inspect import first_score_name, header_from_dict, sample_from_dict
from ._json import loads
from .base import DEFAULT_LIMITS, Limits, LogFormatError, ParsedHeader, ParsedLog, ParsedSample

HEADER_JSON = "header.json"
JOURNAL_PREFIX = "_journal/"
SAMPLES_PREFIX = "samples/"

ZIP_STORED = 0
ZIP_DEFLATED = 8
ZIP_ZSTANDARD = 93
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_ZSTD_MAX_WINDOW = 1 << 27  # zstd's own default cap for decoders (128 MiB)

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    UnicodeDecodeError,
)


def looks_like_eval(names: list[str]) -> bool:
    return any(n == HEADER_JSON or n.startswith(JOURNAL_PREFIX) for n in names)


def read_central_directory(path: str | Path) -> list[zipfile.ZipInfo]:
    """Every entry of the archive's central directory, in order (duplicates included).

    Detection, header reading and parsing each need the directory; reading it costs about
    75 ms for 10,000 members, so it is cached per file version (path, size, mtime).
    """
    stat = os.stat(path)
    return list(_central_directory(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _central_directory(path: str, size: int, mtime_ns: int) -> tuple[zipfile.ZipInfo, ...]:
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
            return tuple(archive.infolist())
    except _ZIP_ERRORS as exc:
        raise LogFormatError(
            "The file looks like a ZIP archive (an Inspect .eval log) but it is truncated or"
            f" corrupt ({exc}); upload the complete file."
        ) from None


def _sample_order(info: zipfile.ZipInfo) -> tuple[int, str, str]:
    # samples/<id>_epoch_<n>.json; order like inspect_ai.log._log.sort_samples: epoch, then id
    # (numeric ids zero-padded so 2 < 10)
    stem = info.filename[len(SAMPLES_PREFIX) : -len(".json")]
    sample_id, sep, epoch = stem.rpartition("_epoch_")
    if not sep or not epoch.isdigit():
        return (1 << 62, stem, info.filename)
    return (int(epoch), sample_id.zfill(20) if sample_id.isdigit() else sample_id, info.filename)


class EvalArchive:
    """An opened (central directory read, limits checked) `.eval` archive."""

    def __init__(self, path: str | Path, limits: Limits) -> None:
        self.path = Path(path)
        self.limits = limits
        entries = read_central_directory(path)
        if len(entries) > limits.max_members:
            raise LogFormatError(
                f"The archive has {len(entries):,} members, more than the limit of"
                f" {limits.max_members:,} (limit max_members)."
            )
        total = sum(info.file_size for info in entries)
        if total > limits.max_uncompressed_bytes:
            raise LogFormatError(
                f"The archive would inflate to {total:,} bytes, more than the limit of"
                f" {limits.max_uncompressed_bytes:,} (limit max_uncompressed_bytes); refusing"
                " to decompress it."
            )
        for info in entries:
            if info.file_size > limits.max_member_bytes:
                raise LogFormatError(
                    f"Member {info.filename!r} would inflate to {info.file_size:,} bytes, more"
                    f" than the per-member limit of {limits.max_member_bytes:,}"
                    " (limit max_member_bytes)."
                )
        # last entry wins for repeated names, as zipfile.ZipFile.getinfo() and Inspect do
        self.members: dict[str, zipfile.ZipInfo] = {info.filename: info for info in entries}
        self._zstd = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)

    @property
    def sample_members(self) -> list[zipfile.ZipInfo]:
        samples = [
            info
            for name, info in self.members.items()
            if name.startswith(SAMPLES_PREFIX) and name.endswith(".json")
        ]
        samples.sort(key=_sample_order)
        return samples

    def read(self, fh: IO[bytes], info: zipfile.ZipInfo) -> bytes:
        """The inflated bytes of one member, checked against its declared size and CRC."""
        name = info.filename
        if info.flag_bits & 0x1:
            raise LogFormatError(f"Member {name!r} is encrypted; Inspect logs never are.")
        fh.seek(info.header_offset)
        head = fh.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size:
            raise self._corrupt(name, "its local header is cut off")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        if signature != b"PK\x03\x04":
            raise self._corrupt(name, "its local header is missing")
        fh.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        packed = fh.read(info.compress_size)
        if len(packed) != info.compress_size:
            raise self._corrupt(name, "its data is cut off")
        size = info.file_size
        method = info.compress_type
        try:
            if method == ZIP_ZSTANDARD:
                data = self._unzstd(packed, size + 1)
            elif method == ZIP_DEFLATED:
                data = zlib.decompressobj(-15).decompress(packed, size + 1)
            elif method == ZIP_STORED:
                data = packed
            else:
                raise LogFormatError(
                    f"Member {name!r} uses ZIP compression method {method}; Inspect logs use"
                    " zstd (93) or deflate (8)."
                )
        except (zstandard.ZstdError, zlib.error) as exc:
            raise self._corrupt(name, f"it does not decompress: {exc}") from None
        if len(data) > size:
            raise LogFormatError(
                f"Member {name!r} inflates beyond its declared size of {size:,} bytes;"
                " refusing it (a zip bomb or a corrupt archive)."
            )
        if len(data) < size:
            raise self._corrupt(name, f"it inflates to {len(data):,} of {size:,} bytes")
        if zlib.crc32(data) != info.CRC:
            raise self._corrupt(name, "its CRC-32 does not match")
        return data

    def _unzstd(self, packed: bytes, at_most: int) -> bytes:
        # several frames may follow each other; read them all, but never more than at_most
        reader = self._zstd.stream_reader(packed, read_across_frames=True)
        parts = []
        got = 0
        while got < at_most:
            chunk = reader.read(at_most - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    @staticmethod
    def _corrupt(name: str, why: str) -> LogFormatError:
        return LogFormatError(
            f"Member {name!r} of the archive is corrupt: {why}; upload the complete log."
        )

    def read_json(self, fh: IO[bytes], name: str) -> object:
        return loads(self.read(fh, self.members[name]), what=f"Member {name!r}")


def read_header(
    path: str | Path, limits: Limits = DEFAULT_LIMITS
) -> tuple[EvalArchive, ParsedHeader]:
    archive = EvalArchive(path, limits)
    if HEADER_JSON not in archive.members:
        raise LogFormatError(
            "The log has no header.json: Inspect was still writing it or crashed"
            " (status 'started'); upload the finished log."
        )
    with open(path, "rb") as fh:
        header = archive.read_json(fh, HEADER_JSON)
    parsed = header_from_dict(
        header,
        fmt="inspect_eval",
        limits=limits,
        sample_members=len(archive.sample_members),
    )
    return archive, parsed


def iter_samples(archive: EvalArchive, score_name: str = "") -> Iterator[ParsedSample]:
    """Yield the samples one member at a time (never more than one inflated at once);
    `score_name` names a sample's single `score` of an early log (see `first_score_name`)."""
    members = archive.sample_members
    limits = archive.limits
    with open(archive.path, "rb") as fh:
        for info in members:
            data = archive.read(fh, info)
            sample = loads(data, what=f"Member {info.filename!r}")
            del data
            yield sample_from_dict(
                sample, where=f"Member {info.filename!r}", limits=limits, score_name=score_name
            )


def parse(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    archive, header = read_header(path, limits)
    return ParsedLog(header=header, samples=iter_samples(archive, first_score_name(header)))
