"""The rides scatter plot: distance against time, one colour per cluster, anomalies marked.

Drawn with Pillow, every ride of the day: each cluster is a density raster in its colour (a pixel
is paler where few rides fall on it, full where many do), a small cluster (under 1,000 rides) is
drawn as outlined dots on top so that a dozen rides still show, and every anomaly is a red cross
on top of everything. The legend names each cluster with its number of rides.

Why not matplotlib, which drew it before: a million rides took 1.2 s to draw as 20,000 sampled
markers, and `import matplotlib.pyplot` 0.5 to 0.7 s, where the clustering itself takes 0.2 s;
this takes about 0.05 s for a million rides, and Pillow is already loaded by the steps that make
PNGs (BENCHMARKS.md, "Clustering a day"). What is drawn is simple enough (points, crosses, a frame,
ticks and labels) not to need a plotting library.

Colours are a qualitative palette without red (red is the anomalies' cross), strong enough on
white.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# matplotlib's tab10 without its red (kept for the anomalies), its orange, pink and cyan darkened
# so that every colour has at least the 3:1 contrast on white that WCAG asks of graphics; a
# cluster past the 7th is grey.
CLUSTER_COLOURS = (
    "#1f77b4",  # blue
    "#e8710a",  # orange
    "#2ca02c",  # green
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#d45fb0",  # pink
    "#0e9aa7",  # teal
    "#7f7f7f",  # grey: the remaining clusters, together
)
ANOMALY_COLOUR = "#d62728"
NAMED_CLUSTERS = len(CLUSTER_COLOURS) - 1


SMALL_CLUSTER = 1_000  # a cluster with fewer rides is drawn as outlined dots, not shaded pixels
WIDTH, HEIGHT = 700, 450
# The plot area, in pixels of the image: left, top, right, bottom (exclusive).
AREA = (64, 30, WIDTH - 14, HEIGHT - 46)
BACKGROUND = (255, 255, 255)
INK = (34, 34, 34)
MARGIN = 0.05  # of the data's span, on each side (as matplotlib's default)
PLOTTED_COLUMNS = (
    ("ride_dist", np.float64),
    ("ride_time", np.float64),
    ("cluster", np.int64),
    ("is_anomaly", bool),
)


def _spaced(text: str) -> str:
    """Pillow's built-in font (Aileron) has a narrow space, 2 px at 11 px: "9,793 rides" reads
    as one word. Two spaces read as one."""
    return text.replace(" ", "  ")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class ClusterGroup:
    """One legend entry: a cluster (or the remaining small ones together), its colour."""

    label: str
    colour: str
    clusters: tuple[int, ...]


def _cluster_sizes(labels: np.ndarray) -> dict[int, int]:
    """Rides per cluster label (DBSCAN's labels are 0..k-1: one counting pass, no sort)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return {}
    if labels.min() < 0:  # not DBSCAN's labels: count them the slow way
        clusters, counts = np.unique(labels, return_counts=True)
        return {int(c): int(n) for c, n in zip(clusters, counts, strict=True)}
    counts = np.bincount(labels)
    return {int(c): int(counts[c]) for c in np.flatnonzero(counts)}


def cluster_groups(clustered: pd.DataFrame) -> list[ClusterGroup]:
    """The clusters as the plot draws them, largest first: each of the 7 largest in its own
    colour, labelled with its number and its rides over the whole day, the rest together."""
    normal = ~clustered["is_anomaly"].to_numpy(dtype=bool)
    return _groups_of(_cluster_sizes(clustered["cluster"].to_numpy()[normal]))


def _groups_of(sizes: dict[int, int]) -> list[ClusterGroup]:
    order = sorted(sizes, key=lambda c: (-sizes[c], c))
    named, others = order[:NAMED_CLUSTERS], order[NAMED_CLUSTERS:]
    if len(others) == 1:
        named, others = order, []
    groups = [
        ClusterGroup(f"cluster {c}: {_count(sizes[c], 'ride')}", CLUSTER_COLOURS[i], (c,))
        for i, c in enumerate(named)
    ]
    if others:
        rides = sum(sizes[c] for c in others)
        label = f"{len(others)} other clusters: {_count(rides, 'ride')}"
        groups.append(ClusterGroup(label, CLUSTER_COLOURS[-1], tuple(others)))
    return groups


@dataclass(frozen=True)
class PlotAxes:
    """What the plot shows: the data ranges and where they fall in the image."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def to_pixels(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Image columns and rows (integers) of the points (x, y); y grows upward."""
        left, top, right, bottom = AREA
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        px = left + np.rint((np.asarray(x, dtype=float) - x0) / (x1 - x0) * (right - left - 1))
        py = top + np.rint((y1 - np.asarray(y, dtype=float)) / (y1 - y0) * (bottom - top - 1))
        return px.astype(np.int64), py.astype(np.int64)


def _padded(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if high == low:
        pad = abs(low) * MARGIN or 0.5
        return low - pad, high + pad
    pad = (high - low) * MARGIN
    return low - pad, high + pad


def plot_axes(clustered: pd.DataFrame) -> PlotAxes:
    """The ranges: every ride, with a 5% margin on each side."""
    return PlotAxes(
        _padded(clustered["ride_dist"].to_numpy(dtype=float)),
        _padded(clustered["ride_time"].to_numpy(dtype=float)),
    )


def nice_ticks(low: float, high: float, most: int = 7) -> tuple[list[float], int]:
    """Round tick values inside [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten), at
    most `most` of them, and the decimals their labels need."""
    span = high - low
    magnitude = 10 ** math.floor(math.log10(span / most))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if span / step <= most:
            break
    first = math.ceil(low / step - 1e-9)
    ticks = [n * step for n in range(first, math.floor(high / step + 1e-9) + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if multiple == 2.5 else 0)
    return ticks, decimals


def _shaded(group_of_ride: np.ndarray, cells: np.ndarray, colours: list[str]) -> np.ndarray:
    """The plot area as RGB: the rides of group g (`group_of_ride` == g, at pixel `cells` of the
    area) as 2x2-pixel dots in colours[g], full where many rides fall and paler where few do;
    groups drawn in order (largest first)."""
    left, top, right, bottom = AREA
    width, height = right - left, bottom - top
    canvas = np.empty((height, width, 3), dtype=np.float32)
    canvas[:] = BACKGROUND
    for number, colour in enumerate(colours):
        mine = cells[group_of_ride == number] if len(colours) > 1 else cells
        counts = np.bincount(mine, minlength=width * height).reshape(height, width)
        grown = counts.copy()  # each ride covers its pixel and those right of and below it
        np.maximum(grown[:, 1:], counts[:, :-1], out=grown[:, 1:])
        np.maximum(grown[1:, :], grown[:-1, :].copy(), out=grown[1:, :])
        filled = grown > 0
        if not filled.any():
            continue
        shade = grown[filled].astype(np.float32)
        full = max(float(np.percentile(shade, 95)), 1.0)
        alpha = (0.4 + 0.6 * np.minimum(np.log1p(shade) / np.log1p(full), 1.0))[:, None]
        rgb = np.array(_rgb(colour), dtype=np.float32)
        canvas[filled] = (1 - alpha) * canvas[filled] + alpha * rgb
    return np.rint(canvas).astype(np.uint8)


def _cross(draw, x: int, y: int, colour, arm: int = 3, width: int = 2) -> None:
    draw.line([(x - arm, y - arm), (x + arm, y + arm)], fill=colour, width=width)
    draw.line([(x - arm, y + arm), (x + arm, y - arm)], fill=colour, width=width)


def _distinct(px: np.ndarray, py: np.ndarray) -> list[tuple[int, int]]:
    """The distinct pixels among (px, py), in a fixed order: one mark per pixel is enough."""
    return [(int(x), int(y)) for x, y in np.unique(np.stack([px, py], axis=1), axis=0)]


def _legend_corner(covered: np.ndarray, box: tuple[int, int]) -> tuple[int, int]:
    """The top-left pixel (in the area) of the corner where a legend box of `box` (width,
    height) hides the fewest rides: upper left, upper right, lower left, lower right."""
    height, width = covered.shape
    w, h = min(box[0], width - 16), min(box[1], height - 16)
    corners = [(8, 8), (width - 8 - w, 8), (8, height - 8 - h), (width - 8 - w, height - 8 - h)]
    hidden = [int(covered[y : y + h, x : x + w].sum()) for x, y in corners]
    return corners[hidden.index(min(hidden))]


_LAST_PLOT: tuple[bytes, bytes] | None = None  # (what was drawn, the PNG): see scatter_png


def _plot_key(clustered: pd.DataFrame, title: str) -> bytes:
    """A digest of everything the plot shows: the title and the four columns it draws."""
    digest = hashlib.blake2b(title.encode(), digest_size=32)
    digest.update(len(clustered).to_bytes(8, "little"))
    for column, dtype in PLOTTED_COLUMNS:
        digest.update(np.ascontiguousarray(clustered[column].to_numpy(dtype=dtype)).tobytes())
    return digest.digest()


def scatter_png(clustered: pd.DataFrame, title: str) -> bytes:
    """The day's plot as PNG bytes. The last plot is kept (one, in this process): a day's
    report page draws the same rides as its clustered_rides did, and gets the same bytes
    without drawing them again."""
    global _LAST_PLOT
    key = _plot_key(clustered, title)
    if _LAST_PLOT is not None and _LAST_PLOT[0] == key:
        return _LAST_PLOT[1]
    png = _draw_png(clustered, title)
    _LAST_PLOT = (key, png)
    return png


def _draw_png(clustered: pd.DataFrame, title: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    axes = plot_axes(clustered)
    labels = clustered["cluster"].to_numpy().astype(np.int64, copy=False)
    is_anomaly = clustered["is_anomaly"].to_numpy(dtype=bool)
    px, py = axes.to_pixels(clustered["ride_dist"].to_numpy(float), clustered["ride_time"])
    normal = ~is_anomaly
    sizes = _cluster_sizes(labels[normal])
    groups = _groups_of(sizes)
    rides_of = [sum(sizes[c] for c in g.clusters) for g in groups]
    shaded = [g for g, n in zip(groups, rides_of, strict=True) if n >= SMALL_CLUSTER]
    small = [g for g, n in zip(groups, rides_of, strict=True) if n < SMALL_CLUSTER]

    left, top, right, bottom = AREA
    # Each shaded ride's group (by cluster label; DBSCAN's labels are 0..k-1).
    normal_labels = labels[normal]
    lookup = np.full(max(sizes, default=0) + 1, -1, dtype=np.int64)
    for index, group in enumerate(shaded):
        lookup[list(group.clusters)] = index
    if normal_labels.min(initial=0) >= 0:
        group_of_ride = lookup[normal_labels]
    else:  # labels that are not DBSCAN's: map them one by one
        index_of = {c: n for n, g in enumerate(shaded) for c in g.clusters}
        group_of_ride = np.array([index_of.get(int(c), -1) for c in normal_labels], np.int64)
    cells = (py[normal] - top) * (right - left) + (px[normal] - left)
    drawn = group_of_ride >= 0
    raster = _shaded(group_of_ride[drawn], cells[drawn], [g.colour for g in shaded])
    # How many rides each pixel of the area shows, for the legend's placement.
    covered = np.bincount(cells, minlength=(right - left) * (bottom - top))
    covered = covered.reshape(bottom - top, right - left)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if shaded:
        image.paste(Image.fromarray(raster), (left, top))
    # Small groups: bigger, opaque, outlined dots over the shading (smallest on top).
    for group in reversed(small):
        members = normal & np.isin(labels, group.clusters)
        dots = _distinct(px[members], py[members])
        for x, y in dots:  # the outlines first, so that no outline crosses a dot of its group
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=INK)
        for x, y in dots:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=group.colour)
    # Anomalies last, over everything.
    anomaly_rgb = _rgb(ANOMALY_COLOUR)
    anomalies = _distinct(px[is_anomaly], py[is_anomaly])
    for x, y in anomalies:
        _cross(draw, x, y, anomaly_rgb)
    # What spilled over the frame (a dot or a cross at the edge) is cut off, as in a plot.
    for box in ([0, 0, WIDTH, top - 1], [0, bottom, WIDTH, HEIGHT], [0, 0, left - 1, HEIGHT]):
        draw.rectangle(box, fill=BACKGROUND)
    draw.rectangle([right, 0, WIDTH, HEIGHT], fill=BACKGROUND)
    draw.rectangle([left - 1, top - 1, right, bottom], outline=INK)

    font = ImageFont.load_default(size=11)
    x_ticks, x_decimals = nice_ticks(*axes.x_range)
    for value, x in zip(x_ticks, axes.to_pixels(x_ticks, np.zeros(len(x_ticks)))[0], strict=True):
        draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
        draw.text((x, bottom + 6), f"{value:.{x_decimals}f}", fill=INK, font=font, anchor="mt")
    y_ticks, y_decimals = nice_ticks(*axes.y_range)
    for value, y in zip(y_ticks, axes.to_pixels(np.zeros(len(y_ticks)), y_ticks)[1], strict=True):
        draw.line([(left - 5, y), (left - 1, y)], fill=INK)
        draw.text((left - 7, y), f"{value:.{y_decimals}f}", fill=INK, font=font, anchor="rm")
    middle = (left + right) // 2
    draw.text((middle, HEIGHT - 6), _spaced("ride distance (km)"), fill=INK, font=font, anchor="md")
    label = Image.new("RGB", (120, 16), BACKGROUND)
    ImageDraw.Draw(label).text(
        (60, 8), _spaced("ride time (min)"), fill=INK, font=font, anchor="mm"
    )
    image.paste(label.rotate(90, expand=True), (4, (top + bottom) // 2 - 60))
    heading = ImageFont.load_default(size=13)
    draw.text((middle, top - 8), _spaced(title), fill=INK, font=heading, anchor="md")

    if len(clustered) == 0:
        draw.text(
            (middle, (top + bottom) // 2), _spaced("no rides"), fill=INK, font=font, anchor="mm"
        )
    else:
        entries = [(g.label, g.colour, "dot") for g in groups]
        if is_anomaly.any():
            rides = _count(int(is_anomaly.sum()), "ride")
            entries.append((f"anomalies: {rides}", ANOMALY_COLOUR, "cross"))
        line = 15
        box = (
            28 + max(int(draw.textlength(_spaced(text), font=font)) for text, _, _ in entries),
            6 + line * len(entries),
        )
        hidden = covered
        for x, y in anomalies:  # an anomaly hidden counts for many rides
            if top <= y < bottom and left <= x < right:
                hidden[y - top, x - left] += 1_000
        bx, by = _legend_corner(hidden, box)
        bx, by = left + bx, top + by
        draw.rectangle([bx, by, bx + box[0], by + box[1]], fill=BACKGROUND, outline="#cccccc")
        for number, (text, colour, mark) in enumerate(entries):
            x, y = bx + 10, by + 3 + line * number + line // 2
            if mark == "dot":
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
            else:
                _cross(draw, x, y, anomaly_rgb)
            draw.text((x + 10, y), _spaced(text), fill=INK, font=font, anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
