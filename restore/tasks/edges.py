"""Straight edges continued across a hole, before its texture is filled (structure first, as
in Sun et al. 2005, "Image completion with structure propagation"; here for straight lines
only).

A table's edge, a horizon or a wall's base that runs into a hole and out on the far side
came out of the exemplar fill broken into steps, or as a haze where the fill mixed the two
sides. :func:`straight_edges` finds such edges: two line segments (OpenCV's LSD, von Gioi et
al. 2010) that end at the hole from opposite sides, lie on one line across it, and separate
the same two colours. :func:`paint_edges` draws each across the hole as a strip whose
colour profile across the line is interpolated between the two ends' profiles; the strip
then counts as known for the fill, so each side of the edge is filled from its own side.

The thresholds below were set a priori from the geometry (a few pixels, a few degrees, a
visible colour step), not tuned on scores; benchmarks/results/inpaint_holes.md has what they
do on validation photos.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: segments shorter than this (pixels) are texture, not an edge
MIN_LEN = 16.0
#: a segment points into the hole when its end is at most this far (pixels) from it
NEAR = 6.0
#: the two segments and the line joining their ends agree in direction within this (degrees)
ANGLE = 3.0
#: an edge: the colours on its two sides differ by at least this in some channel ([0, 1]).
#: A faint edge broken by the fill hardly shows, while the strip still splits the hole: at
#: 12 / 255 a faint path edge low in a validation box (BSDS 55075) split it, and the fill above
#: came out as a tongue of sand up through a wall
CONTRAST = 24 / 255
#: the same edge: each side's colour at one end within this of the other end's ([0, 1])
MATCH = 24 / 255
#: the strip drawn across the hole: this many pixels each side of the line
HALF_WIDTH = 4
#: the profiles and side colours are read over this length of each segment (pixels) next to the hole
PROFILE = 24.0
#: edges are found on the image shrunk to this long side when larger, and every length above
#: is in that image's pixels: a large photo's edges are wide, and a 4-pixel profile would sit
#: inside their blur. Photos up to this size are searched as they are
SEARCH_SIZE = 1024


@dataclasses.dataclass
class _End:
    p: np.ndarray  # the segment's end at the hole (x, y)
    u: np.ndarray  # unit direction, from the segment into the hole
    length: float
    exit: float  # distance along u from p to where the ray leaves the hole
    left: np.ndarray  # mean colour on the +normal side
    right: np.ndarray  # mean colour on the -normal side
    scale: float = 1.0  # pixels of the image per pixel of the search (SEARCH_SIZE)

    @property
    def n(self) -> np.ndarray:
        return np.array([-self.u[1], self.u[0]])


def _sample(f: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``f`` (``H x W x C`` float32) at points ``pts`` (``N x 2``, x and y), bilinear."""
    import cv2

    mx = np.ascontiguousarray(pts[:, 0], np.float32)[None]
    my = np.ascontiguousarray(pts[:, 1], np.float32)[None]
    out = cv2.remap(f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
    return out.reshape(len(pts), -1)


def _across(f: np.ndarray, w: np.ndarray, e: _End, offsets: np.ndarray, length: float) -> np.ndarray:
    """The mean colour at each perpendicular offset (``offsets``, along ``e.n``) over the
    segment's ``length`` pixels next to the hole, known pixels only (``w``: ``H x W x 1``
    weights, 1 = known): ``len(offsets) x C``, NaN where no known pixel was seen."""
    ts = np.arange(1.0, max(length, 2.0))
    pts = e.p[None, None] - ts[:, None, None] * e.u + offsets[None, :, None] * e.n
    pts = pts.reshape(-1, 2)
    num = _sample(f * w, pts).reshape(len(ts), len(offsets), -1).sum(0)
    den = _sample(w, pts).reshape(len(ts), len(offsets), -1).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0.5, num / den, np.nan)


def _mean_seen(v: np.ndarray) -> np.ndarray | None:
    """The mean over the rows of ``v`` that were seen (not NaN); None if none was."""
    seen = np.isfinite(v).all(1)
    return v[seen].mean(0) if seen.any() else None


def _ray(hole: np.ndarray, p: np.ndarray, u: np.ndarray) -> float | None:
    """Where the ray from ``p`` along ``u`` leaves the hole (its distance), if it enters the
    hole within :data:`NEAR` pixels and leaves it inside the image; else None."""
    H, W = hole.shape
    ts = np.arange(0.0, 2.0 * (H + W), 0.5)
    q = p[None] + ts[:, None] * u[None]
    xi, yi = np.round(q[:, 0]).astype(int), np.round(q[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
    stop = np.argmin(inside) if not inside.all() else len(ts)
    h = hole[yi[:stop], xi[:stop]]
    if not h.any():
        return None
    t_in = int(np.argmax(h))
    if ts[t_in] > NEAR:
        return None
    out = np.nonzero(~h[t_in:])[0]
    return None if out.size == 0 else float(ts[t_in + out[0]])


def _ends(img: np.ndarray, hole: np.ndarray, avoid: np.ndarray) -> list[_End]:
    """The ends of line segments that point into the hole, with a visible colour step."""
    import cv2

    H, W = hole.shape
    f = img.astype(np.float32) / 255
    w = (~avoid).astype(np.float32)[..., None]
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    # the detector sees a flat hole: no edges of the removed object, and no edge drawn into
    # it (Telea's fill continued them a few pixels and split their segments at random). The
    # hole's own outline makes segments along the border, which the test below drops
    grey[avoid] = int(np.median(grey[~avoid])) if (~avoid).any() else 0
    segs = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    if segs is None:
        return []
    segs = segs.reshape(-1, 4).astype(np.float64)
    segs = segs[np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= MIN_LEN]
    near = avoid.astype(np.uint8)
    near = cv2.dilate(near, np.ones((3, 3), np.uint8)) > 0  # a segment's pixels must be known
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)  # to the nearest hole pixel
    ends = []
    for x0, y0, x1, y1 in segs:
        a, b = np.array([x0, y0]), np.array([x1, y1])
        L = float(np.linalg.norm(b - a))
        for p, q in ((a, b), (b, a)):
            xi, yi = min(max(int(round(p[0])), 0), W - 1), min(max(int(round(p[1])), 0), H - 1)
            if dist[yi, xi] > NEAR + 2:
                continue
            u = (p - q) / L
            # a segment may reach into the flat hole or touch it: trim its end back to known
            # pixels, and drop it if much of the rest runs along the hole (its outline)
            pts = p[None] - np.arange(0.0, L)[:, None] * u[None]
            xs = np.clip(np.round(pts[:, 0]).astype(int), 0, W - 1)
            bad = near[np.clip(np.round(pts[:, 1]).astype(int), 0, H - 1), xs]
            k0 = int(np.argmin(bad))
            if bad[k0] or L - k0 < MIN_LEN or bad[k0:].mean() > 0.1:
                continue
            pk = p - k0 * u
            t = _ray(hole, pk, u)
            if t is None:
                continue
            e = _End(pk, u, L - k0, t, np.zeros(3), np.zeros(3))
            sides = _across(f, w, e, np.array([2.0, 3.0, 4.0, 5.0, -2.0, -3.0, -4.0, -5.0]), min(e.length, PROFILE))
            e.left, e.right = _mean_seen(sides[:4]), _mean_seen(sides[4:])
            if e.left is None or e.right is None:
                continue
            if np.abs(e.left - e.right).max() < CONTRAST:
                continue
            ends.append(e)
    return ends


def straight_edges(img: np.ndarray, hole: np.ndarray, avoid: np.ndarray | None = None) -> list[tuple[_End, _End]]:
    """Pairs of segment ends facing each other across the hole: on one line (within
    :data:`ANGLE`) and separating the same colours (within :data:`MATCH`). ``img``: ``H x W
    x 3`` uint8 RGB; ``hole``: ``H x W`` bool, the pixels to fill; ``avoid``: pixels to take
    nothing from (default: the hole). Each end is in at most one pair, the closest matches
    first."""
    import cv2

    avoid = hole if avoid is None else avoid | hole
    H, W = hole.shape
    k = max(H, W) / SEARCH_SIZE
    if k > 1:  # search a shrunk copy; the ends found are mapped back
        size = (max(1, round(W / k)), max(1, round(H / k)))

        def shrink(m):
            return cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0

        ends = _ends(cv2.resize(img, size, interpolation=cv2.INTER_AREA), shrink(hole), shrink(avoid))
        sx, sy = W / size[0], H / size[1]
        for e in ends:
            e.p = (e.p + 0.5) * [sx, sy] - 0.5
            e.length, e.exit, e.scale = e.length * k, e.exit * k, k
    else:
        ends = _ends(img, hole, avoid)
    cos = np.cos(np.deg2rad(ANGLE))
    cand = []
    for i, A in enumerate(ends):
        for j in range(i + 1, len(ends)):
            B = ends[j]
            d = B.p - A.p
            D = float(np.linalg.norm(d))
            # B's end is where A's ray leaves the hole, and A's where B's does: the line crosses
            # one stretch of hole, not known pixels in between (an object the line runs behind)
            if D < 1 or abs(D - A.exit) > NEAR * A.scale or abs(D - B.exit) > NEAR * B.scale:
                continue
            v = d / D
            if A.u @ v < cos or -(B.u @ v) < cos or -(A.u @ B.u) < cos:
                continue
            # B runs the other way: its left is A's right
            err = max(np.abs(A.left - B.right).max(), np.abs(A.right - B.left).max())
            if err <= MATCH:
                cand.append((err, i, j))
    used, pairs = set(), []
    for _, i, j in sorted(cand):
        if i not in used and j not in used:
            used |= {i, j}
            pairs.append((ends[i], ends[j]))
    return pairs


def paint_edges(img: np.ndarray, hole: np.ndarray, pairs, avoid: np.ndarray | None = None,
                half: int = HALF_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """``img`` (``H x W x 3`` uint8) with each pair's edge drawn across the hole as a strip
    ``half`` pixels each side of the line joining the two ends; across the strip the colours
    are the two ends' profiles, interpolated along it. Returns the image and the strip (``H x
    W`` bool, hole pixels only)."""
    strip = np.zeros(hole.shape, bool)
    if not pairs:
        return img, strip
    f = img.astype(np.float32) / 255
    out = f.copy()
    avoid = hole if avoid is None else avoid | hole
    w = (~avoid).astype(np.float32)[..., None]
    ys, xs = np.nonzero(hole)
    P = np.stack([xs, ys], 1).astype(np.float64)
    steps = np.arange(-half - 1.0, half + 2.0)
    for A, B in pairs:
        d = B.p - A.p
        D = float(np.linalg.norm(d))
        u = d / D
        n = np.array([-u[1], u[0]])
        s = (P - A.p) @ u / D
        r = (P - A.p) @ n
        k = A.scale  # lengths are in the search's pixels (SEARCH_SIZE)
        offsets = steps * k
        sel = (s > -0.1) & (s < 1.1) & (np.abs(r) <= half * k + 0.5)
        if not sel.any():
            continue
        # each end's profile, along this line's normal (B's normal points the other way)
        pa = _across(f, w, A, offsets * np.sign(A.n @ n), min(A.length, PROFILE * k))
        pb = _across(f, w, B, offsets * np.sign(B.n @ n), min(B.length, PROFILE * k))
        if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
            continue
        rr, ss = r[sel], np.clip(s[sel], 0, 1)[:, None]
        ca = np.stack([np.interp(rr, offsets, pa[:, c]) for c in range(pa.shape[1])], 1)
        cb = np.stack([np.interp(rr, offsets, pb[:, c]) for c in range(pb.shape[1])], 1)
        out[ys[sel], xs[sel]] = (1 - ss) * ca + ss * cb
        strip[ys[sel], xs[sel]] = True
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8), strip
