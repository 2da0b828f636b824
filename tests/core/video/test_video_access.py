"""Frame-accurate reading: frame i is the same pixels in order or by seeking, in every codec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.video import open_video
from media import decode_index, index_frame, write_video

N = 60
CODECS = {
    # name: (file, codec, container, encoder options)
    "h264-bframes-mp4": ("v.mp4", "libx264", "mp4", {"bf": "3", "g": "12", "crf": "18"}),
    "h265-bframes-mov": ("v.mov", "libx265", "mov", {"x265-params": "bframes=3:keyint=12:min-keyint=12:log-level=error", "crf": "18"}),
    "mpeg4-bframes-avi": ("v.avi", "mpeg4", "avi", {"bf": "2", "g": "12", "qscale": "2"}),
    "mpeg4-mp4": ("v4.mp4", "mpeg4", "mp4", {"bf": "2", "g": "10", "qscale": "2"}),
    "mjpeg-avi": ("m.avi", "mjpeg", "avi", {"qscale": "2"}),
    # H.264 in AVI as NTU RGB+D stores it; open GOPs: some keyframes' pictures are shown after B-frames that follow them
    "h264-opengop-avi": ("og.avi", "libx264", "avi", {"x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12",
                                                      "bf": "3", "g": "12"}),
    "vp8-webm": ("v.webm", "libvpx", "webm", {"g": "12", "crf": "10", "b": "1M"}),
    "vp9-mkv": ("v.mkv", "libvpx-vp9", "matroska", {"g": "12", "crf": "20", "b": "0"}),
    # program and transport streams seek by decode time and renumber timestamps after a seek: read from the start
    "h264-bframes-ts": ("v.ts", "libx264", "mpegts", {"bf": "2", "g": "12", "crf": "18"}),
    "mpeg2-bframes-ts": ("m2.ts", "mpeg2video", "mpegts", {"bf": "2", "g": "12", "qscale": "2"}),
    "mpeg2-bframes-mpg": ("m2.mpg", "mpeg2video", "mpeg", {"bf": "2", "g": "12", "qscale": "2"}),
    # ASF after a seek gives H.264 packets without timestamps: counted from the start as well
    "h264-bframes-asf": ("v.wmv", "libx264", "asf", {"bf": "2", "g": "12", "crf": "18"}),
    "wmv2-asf": ("w.wmv", "wmv2", "asf", {"g": "12", "qscale": "2"}),
}


@pytest.fixture(scope="module", params=sorted(CODECS))
def coded_video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name, codec, fmt, options = CODECS[request.param]
    path = tmp_path_factory.mktemp(request.param) / name
    pix = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    return write_video(path, N, codec=codec, fmt=fmt, options=options, pix_fmt=pix)


def test_sequential_read_gives_every_frame_in_order(coded_video: Path) -> None:
    with open_video(coded_video) as video:
        assert len(video) == N
        assert [decode_index(f) for _, f in video.iter_frames()] == list(range(N))


def test_random_access_matches_sequential_pixels(coded_video: Path) -> None:
    with open_video(coded_video) as video:
        sequential = [f.copy() for _, f in video.iter_frames()]
    order = np.random.default_rng(0).permutation(N).tolist() + [N - 1, 0, N // 2, 3, 2, 1]
    with open_video(coded_video, cache_bytes=0) as video:  # no cache: every read really decodes
        for i in order:
            frame = video.read(i)
            assert decode_index(frame) == i
            np.testing.assert_array_equal(frame, sequential[i], err_msg=f"frame {i} differs when read by seeking")


def test_read_clip_in_any_order(coded_video: Path) -> None:
    with open_video(coded_video, cache_bytes=0) as video:
        clip = video.read_clip([30, 5, 5, 59, 12])
    assert clip.shape == (5, 64, 128, 3) and clip.dtype == np.uint8
    assert [decode_index(f) for f in clip] == [30, 5, 5, 59, 12]


def test_frames_are_rgb_and_close_to_what_was_encoded(tmp_path: Path) -> None:
    path = write_video(tmp_path / "q.mp4", 5, options={"crf": "0"}, pix_fmt="yuv444p")
    with open_video(path) as video:
        frame = video.read(3)
    assert frame.flags.c_contiguous and frame.shape == (64, 128, 3)
    expected = index_frame(3).astype(int)
    assert np.abs(frame.astype(int) - expected).mean() < 3.0  # colour order is RGB, not BGR


def test_info_fields(tmp_path: Path) -> None:
    path = write_video(tmp_path / "i.mp4", 50, fps=25, size=(96, 48))
    with open_video(path) as video:
        info = video.info.to_dict()
    assert info["frames"] == 50 and info["fps"] == 25.0 and (info["width"], info["height"]) == (96, 48)
    assert info["duration_s"] == pytest.approx(2.0, abs=1e-6)
    assert info["codec"] == "h264" and info["rotation"] == 0 and not info["variable_frame_rate"]


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path: Path, degrees: int) -> None:
    # set_display_rotation takes counter-clockwise degrees (FFmpeg's display matrix)
    path = write_video(tmp_path / f"r{degrees}.mp4", 12, options={"crf": "0"}, pix_fmt="yuv444p", rotation=degrees)
    with open_video(path) as video:
        cw = (-degrees) % 360
        assert video.info.rotation == cw
        frame = video.read(7)
        upright = np.rot90(frame, k=cw // 90)  # undo the clockwise rotation
    assert frame.shape == ((128, 64, 3) if degrees % 180 else (64, 128, 3))
    assert (video.info.width, video.info.height) == (frame.shape[1], frame.shape[0])
    assert decode_index(upright) == 7


@pytest.mark.parametrize("name,fmt", [("vfr.mkv", "matroska"), ("vfr.mp4", "mp4")])
def test_variable_frame_rate_keeps_exact_frames_and_times(tmp_path: Path, name: str, fmt: str) -> None:
    pts_ms = [0, 40, 80, 200, 240, 260, 280, 500, 540, 580, 620, 660]
    path = write_video(tmp_path / name, len(pts_ms), codec="libx264", fmt=fmt, time_base_pts=pts_ms, options={"g": "4", "bf": "2"})
    with open_video(path, cache_bytes=0) as video:
        assert len(video) == len(pts_ms)
        assert video.info.variable_frame_rate
        np.testing.assert_allclose(video.timestamps, np.array(pts_ms) / 1000.0, atol=1e-3)
        for i in [9, 2, 11, 0, 5]:
            assert decode_index(video.read(i)) == i


def test_opening_is_lazy(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", 300, size=(640, 360), options={"g": "30", "preset": "ultrafast"})
    with open_video(path) as video:
        assert video._index.grid  # the MP4 sample table gave the frames: no packet was read
        assert len(video.cache) == 1  # opening decoded the first frame only
        frame = video.read(250)
        assert decode_index(frame) == 250
        assert len(video.cache) <= 6  # a seek to the nearest keyframe, not a decode of the whole file


def test_frame_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c.mp4", 30)
    frame_bytes = 64 * 128 * 3
    with open_video(path, cache_bytes=5 * frame_bytes) as video:
        for i in range(30):
            video.read(i)
        assert len(video.cache) == 5 and video.cache.nbytes <= 5 * frame_bytes
        assert 29 in video.cache and 0 not in video.cache  # least recently used went first


def test_cached_frames_are_read_only(tmp_path: Path) -> None:
    with open_video(write_video(tmp_path / "ro.mp4", 3)) as video:
        with pytest.raises(ValueError):
            video.read(1)[0, 0, 0] = 1


def test_bad_index_is_an_index_error(tmp_path: Path) -> None:
    with open_video(write_video(tmp_path / "b.mp4", 5)) as video:
        with pytest.raises(IndexError, match="outside"):
            video.read(5)
        with pytest.raises(IndexError):
            video.read(-1)
        with pytest.raises(TypeError):
            video.read(1.5)  # type: ignore[arg-type]


def _remux(source: Path, target: Path, fmt: str, *, skip: int) -> Path:
    """``source``'s packets into ``target`` without its first ``skip`` (keyframe included): a file cut mid-GOP."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", format=fmt) as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for n, packet in enumerate(p for p in src.demux(stream) if p.size):
            if n >= skip:
                packet.stream = copy
                out.mux(packet)
    return target


def _presented(path: Path) -> list[int]:
    """The frames FFmpeg itself presents, by the index drawn in them."""
    import av

    with av.open(str(path)) as container:
        return [decode_index(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def _check_every_frame(path: Path, expected: list[int]) -> None:
    with open_video(path) as video:
        assert len(video) == len(expected)
        assert [decode_index(f) for _, f in video.iter_frames()] == expected
    for i in (len(expected) - 1, len(expected) // 2, 0):  # each by a fresh reader: the seek alone must find it
        with open_video(path, cache_bytes=0) as video:
            assert decode_index(video.read(i)) == expected[i]


def test_a_file_cut_mid_gop_counts_only_the_frames_it_presents(tmp_path: Path) -> None:
    """The first packets need a keyframe the file lost: FFmpeg presents nothing for them.  They were once
    counted, so the last frames of the file were 'truncated or damaged'."""
    whole = write_video(tmp_path / "whole.mkv", N, fmt="matroska", options={"bf": "2", "g": "12"})
    cut = _remux(whole, tmp_path / "cut.mp4", "mp4", skip=5)
    expected = _presented(cut)
    assert len(expected) < N - 5 and expected == list(range(expected[0], N))
    _check_every_frame(cut, expected)


@pytest.mark.parametrize(
    ("codec", "fmt", "options"),
    [
        ("mpeg4", "avi", {"g": "12", "qscale": "2"}),  # P-frames before the first keyframe decode to grey garbage
        ("mpeg4", "avi", {"bf": "2", "g": "12", "qscale": "2"}),  # and open-GOP B-frames after it are dropped
        ("libx264", "avi", {"bf": "2", "g": "12"}),
        ("mpeg4", "mp4", {"bf": "2", "g": "12", "qscale": "2"}),
        ("libx264", "mpegts", {"bf": "2", "g": "12"}),  # a recording cut anywhere: counted from the start, as AVI
        ("mpeg2video", "mpeg", {"bf": "2", "g": "12", "qscale": "2"}),
    ],
    ids=["mpeg4-avi", "mpeg4-bframes-avi", "h264-avi", "mpeg4-bframes-mp4", "h264-ts", "mpeg2-ps"],
)
def test_a_file_cut_mid_gop_starts_at_its_first_keyframe(tmp_path: Path, codec: str, fmt: str, options: dict[str, str]) -> None:
    """Cut 5 packets in, the file's first whole picture is frame 12 (the next keyframe).  The packets before it,
    and the B-frames after it shown before it, need pictures the file lost: some decoders give garbage for them
    (MPEG-4 part 2 paints grey frames), others nothing, which made the last frames 'end early'.  Either way they
    are not frames: every frame read is a whole picture, and the last one reads."""
    whole = write_video(tmp_path / f"whole.{fmt}", N, codec=codec, fmt=fmt, options=options)
    cut = _remux(whole, tmp_path / f"cut.{fmt}", fmt, skip=5)
    _check_every_frame(cut, list(range(12, N)))


def test_a_cut_recording_followed_by_a_whole_one_keeps_every_frame_of_the_second(tmp_path: Path) -> None:
    """Concatenated transport streams (recordings cut and joined): timestamps jump back at the join.  Only the
    first GOP's pictures shown before its keyframe are lost ones; the second recording's frames all count."""
    whole = write_video(tmp_path / "whole.ts", N, codec="mpeg2video", fmt="mpegts", options={"bf": "2", "g": "12", "qscale": "2"})
    cut = _remux(whole, tmp_path / "cut.ts", "mpegts", skip=5)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(cut.read_bytes() + whole.read_bytes())
    expected = list(range(12, N)) + list(range(N))
    assert _presented(joined) == expected
    _check_every_frame(joined, expected)


def test_a_clean_start_on_an_open_gop_keyframe_leaves_out_the_pictures_before_it(tmp_path: Path) -> None:
    """One segment of an open-GOP stream (as HLS cuts them): it starts on a keyframe, but the B-frames after it
    that are shown before it refer to the GOP before; the decoder drops them, so they are not counted."""
    whole = write_video(tmp_path / "whole.ts", N, fmt="mpegts",
                        options={"x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12", "bf": "3", "g": "12"})
    cut = _remux(whole, tmp_path / "cut.ts", "mpegts", skip=11)  # packet 11 is the second keyframe, 12 a B-frame before it
    import av

    with av.open(str(cut)) as container:
        first_packets = [p for p in container.demux(video=0) if p.size][:2]
    assert first_packets[0].is_keyframe and first_packets[1].pts < first_packets[0].pts
    expected = _presented(cut)
    assert expected == list(range(expected[0], N))
    _check_every_frame(cut, expected)


def test_an_edit_list_that_trims_the_start_is_honoured(tmp_path: Path) -> None:
    """An MP4 edit list (as editors and cameras write) that starts 5 frames in: 55 frames, the first is frame 5."""
    import struct

    import av

    source = write_video(tmp_path / "full.mp4", N, fmt="mp4", options={"bf": "3", "g": "30"})
    with av.open(str(source)) as container:
        entries = container.streams.video[0].index_entries
        step = entries[1].timestamp - entries[0].timestamp
    data = bytearray(source.read_bytes())
    box = data.find(b"elst")
    assert box > 0 and data[box + 4] == 0  # version 0: 32-bit segment duration and media time
    media_time = struct.unpack_from(">i", data, box + 16)[0]
    struct.pack_into(">i", data, box + 16, media_time + 5 * step)
    trimmed = tmp_path / "trimmed.mp4"
    trimmed.write_bytes(bytes(data))
    assert _presented(trimmed) == list(range(5, N))
    _check_every_frame(trimmed, list(range(5, N)))


def test_an_open_gop_avi_restarts_at_keyframes_once_a_pass_has_counted_their_pictures(tmp_path: Path) -> None:
    """AVI packets carry no presentation order: a keyframe's packet number is not its picture's place when B-frames
    shown before it follow it.  Keyframes become restart points at the places a pass from the start counted, which
    are where FFmpeg's own decoder presents its key pictures."""
    import av

    path = write_video(tmp_path / "og.avi", N, fmt="avi",
                       options={"x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12", "bf": "3", "g": "12"})
    with av.open(str(path)) as container:
        key_pictures = [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]
        container.seek(0)
        key_packets = [i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe]
    assert key_pictures != key_packets  # the file has keyframes whose pictures are shown later than their packets
    with open_video(path, cache_bytes=0) as video:
        assert [decode_index(f) for _, f in video.iter_frames()] == list(range(N))
        assert video._index.keyframe_indices.tolist() == key_pictures
        for i in (N - 1, 40, 13, 12, 11, 33, 32, 25):  # backward jumps restart at the placed keyframes
            assert decode_index(video.read(i)) == i


@pytest.mark.parametrize("skip", [5, 11, 23])
def test_an_open_gop_avi_cut_mid_stream_counts_only_the_pictures_its_decoder_presents(tmp_path: Path, skip: int) -> None:
    """Cut at (11, 23) or before (5) an open-GOP keyframe: the B-frames after it that are shown before it refer to
    the lost GOP and the decoder drops them; AVI's timestamps cannot say which, so they were counted, and the
    last frame "ended early"."""
    whole = write_video(tmp_path / "whole.avi", N, fmt="avi", options={
        "x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12", "bf": "3", "g": "12"})
    cut = _remux(whole, tmp_path / "cut.avi", "avi", skip=skip)
    expected = _presented(cut)
    assert expected == list(range(expected[0], N)) and len(expected) < N - skip
    _check_every_frame(cut, expected)
    order = np.random.default_rng(2).permutation(len(expected)).tolist()
    with open_video(cut, cache_bytes=0) as video:
        assert [decode_index(video.read(i)) for i in order] == [expected[i] for i in order]


@pytest.mark.parametrize("fmt, name", [("avi", "cut.avi"), ("mp4", "cut.mp4"), ("matroska", "cut.mkv")])
def test_a_file_cut_after_its_only_keyframe_says_it_has_none(tmp_path: Path, fmt: str, name: str) -> None:
    """NTU RGB+D's clips have one keyframe: cut after it, nothing decodes (FFmpeg presents no frame either)."""
    from core.errors import VideoError

    whole = write_video(tmp_path / f"whole-{name}", N, fmt=fmt, options={"bf": "2", "g": "1000"})
    cut = _remux(whole, tmp_path / name, fmt, skip=5)
    assert _presented(cut) == []
    with pytest.raises(VideoError, match=r"cut\.\w+: has no keyframe, so no picture can be decoded"):
        open_video(cut)


def test_an_avi_that_starts_on_an_idr_picture_is_not_decoded_ahead_at_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole recordings start cleanly: finding dropped pictures costs them nothing."""
    from core.video import container

    path = write_video(tmp_path / "og.avi", N, fmt="avi", options={
        "x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12", "bf": "3", "g": "12"})

    def no_probe(*args: object) -> set[int]:
        raise AssertionError("decoded ahead at open")

    monkeypatch.setattr(container, "undecodable_after_key", no_probe)
    with open_video(path) as video:
        assert len(video) == N


@pytest.mark.parametrize("fmt", ["matroska", "mp4"])
@pytest.mark.parametrize("gop", ["closed", "open"])
def test_b_frames_copied_out_of_an_avi_are_read_in_the_order_the_decoder_presents_them(tmp_path: Path, fmt: str, gop: str) -> None:
    """An AVI's H.264 with B-frames stream-copied into MKV or MP4 (as converting NTU RGB+D with ``-c copy`` does) keeps
    the AVI's timestamps, guessed in decode order: unique, but not the pictures' order.  FFmpeg presents every
    frame in order; the timestamps once put frame 5's picture at frame 4's place, and frame 4 "ended early"."""
    options = {"bf": "3", "g": "24"} if gop == "closed" else {
        "x264-params": "open-gop=1:b-adapt=0:bframes=3:keyint=12:min-keyint=12", "bf": "3", "g": "12"}
    avi = write_video(tmp_path / "source.avi", N, fmt="avi", options=options)
    copied = _remux(avi, tmp_path / ("copied.mkv" if fmt == "matroska" else "copied.mp4"), fmt, skip=0)
    assert _presented(copied) == list(range(N))
    _check_every_frame(copied, list(range(N)))
    order = np.random.default_rng(1).permutation(N).tolist()
    with open_video(copied, cache_bytes=0) as video:  # random access first, before any pass
        assert [decode_index(video.read(i)) for i in order] == order
    for i in range(N):  # each frame read first by a fresh reader: a seek may land on the very frame asked for
        with open_video(copied, cache_bytes=0) as video:
            assert decode_index(video.read(i)) == i, f"frame {i} read first"


def test_closing_a_video_while_another_thread_reads_it_waits_for_the_read_and_later_reads_fail_cleanly(tmp_path: Path) -> None:
    """The viewer closes its video while a worker (or its read-ahead thread) may be decoding: the close waits for
    that frame, and a read after it is a VideoError, never FFmpeg working on a closed file."""
    import threading

    from core.errors import VideoError

    path = write_video(tmp_path / "v.mp4", N, options={"bf": "3", "g": "12"})
    video = open_video(path, cache_bytes=0)
    outcomes: list[str] = []
    started = threading.Event()

    def reader() -> None:
        try:
            for i in range(N - 1, -1, -3):  # backward: every read seeks and decodes
                started.set()
                assert decode_index(video.read(i)) == i
            outcomes.append("all read")
        except VideoError as err:
            outcomes.append(err.problem)

    thread = threading.Thread(target=reader)
    thread.start()
    started.wait(5)
    video.close()
    thread.join(10)
    assert not thread.is_alive() and len(outcomes) == 1
    assert outcomes[0] == "all read" or "after the video was closed" in outcomes[0]
    with pytest.raises(VideoError, match="after the video was closed"):
        video.read(5)


def test_a_relative_name_with_a_colon_is_the_local_file_not_an_ffmpeg_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``file:other.mp4`` was FFmpeg's ``file`` protocol opening ``other.mp4`` (another video, silently), and
    ``clip:1.mp4`` an unknown protocol.  Files written under such names (exports, synthetic sets) too."""
    from core.data.metadata import header_metadata
    from core.synth.writer import write_mp4

    monkeypatch.chdir(tmp_path)
    write_video(tmp_path / "other.mp4", 40, size=(160, 96))
    frames = np.stack([index_frame(i) for i in range(10)])
    write_mp4("file:other.mp4", frames)
    write_mp4("clip:1.mp4", frames[:6])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip:1.mp4", "file:other.mp4", "other.mp4"]
    for name, count in (("file:other.mp4", 10), ("clip:1.mp4", 6)):
        with open_video(name) as video:
            assert len(video) == count and video.info.width == 128
            assert decode_index(video.read(count - 1)) == count - 1
        assert header_metadata(name)[0] == count
