"""Video input: open a file or a folder of frames, read any frame exactly.

``open_video(path)`` returns a :class:`Video`; ``video.read(i)`` gives frame ``i``
as an (H, W, 3) uint8 RGB array, the same pixels whether frames are read in
order or by seeking, with rotation metadata applied.  Nothing is decoded whole.
"""

from core.video.base import READER_VERSION, Video, VideoInfo
from core.video.opener import VIDEO_EXTENSIONS, IMAGE_EXTENSIONS, open_video
from core.video.segment import Segment, SegmentVideo, file_span, open_segment

__all__ = ["READER_VERSION", "Video", "VideoInfo", "open_video", "open_segment", "file_span", "Segment", "SegmentVideo", "VIDEO_EXTENSIONS",
           "IMAGE_EXTENSIONS"]
