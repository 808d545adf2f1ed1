"""SynthVGS scenes: sampling their description and drawing them with PIL.

A scene has a textured background (grass, sand, sky, snow, water) and one or
two *groups* of identical objects. A group is one object or a counted group
of two or three (same shape, colour and size). Layouts:

- ``single``: one object;
- ``count``: one group of 2 or 3 objects;
- ``pair``: two single objects that differ in shape or colour, with a
  relation;
- ``count_pair``: a group of two plus a single object, with a relation.

The relation reads "group 0 <relation> group 1", one of ``above``,
``below``, ``left_of``, ``right_of``. The groups sit on either side of the
image's middle line along the relation axis, near a common line across it,
so the relation is unambiguous. Objects never overlap.

12 shapes (circle, square, triangle, star, cross, heart, diamond, ring,
house, tree, car, fish), 8 colours (red, green, blue, yellow, black, white,
purple, brown; colours that would vanish on a background are not used on
it, e.g. no green object on grass) and 2 sizes (big: 67-80 px, small: 37-44
px on the 224 px image) give 816 distinct single-object scenes and about
550k distinct pair scenes, before positions. Drawing uses a per-image random
generator: object size, rotation (+-12 degrees), colour (+-12 per channel)
and texture jitter, so no two images are pixel-identical templates. Shapes
are drawn at twice the resolution and downsampled (Lanczos) for smooth edges.

Authors
 * speechbrain-vgs developers 2026
"""

import dataclasses
import math

import numpy as np
from PIL import Image, ImageDraw

from speechbrain_vgs.dataio.synthvgs.languages import (
    BACKGROUNDS,
    COLORS,
    COUNT_WORDS,
    HORIZONTAL,
    RELATION_CONCEPT,
    SHAPES,
)

IMAGE_SIZE = 224
SUPERSAMPLE = 2
MARGIN = 6
EXTENT = {"big": 80, "small": 44}  # largest extent in pixels
SHRINK = (0.84, 1.0)  # drawn extent = EXTENT * uniform(SHRINK)
LAYOUTS = ("single", "count", "pair", "count_pair")
LAYOUT_PROBS = (0.25, 0.15, 0.4, 0.2)
RELATIONS = ("above", "below", "left_of", "right_of")

RGB = {
    "red": (215, 35, 35),
    "green": (40, 165, 55),
    "blue": (35, 75, 215),
    "yellow": (245, 215, 30),
    "black": (25, 25, 25),
    "white": (248, 248, 248),
    "purple": (145, 55, 180),
    "brown": (125, 78, 38),
}
# Colours not used on a background because they would not stand out.
CLASHES = {
    "grass": ("green",),
    "sand": ("yellow",),
    "sky": ("blue", "white"),
    "snow": ("white",),
    "water": ("blue",),
}


def sample_scene(rng, split):
    """Draws a scene description (no pixels yet).

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness.
    split : str
        Stored in the scene ("train", "valid" or "test").

    Returns
    -------
    dict
        ``{"split", "layout", "background", "objects": [{"shape", "color",
        "size", "x", "y", "group"}], "relation", "concepts"}``; x, y are the
        object centre in pixels; ``concepts`` lists every concept id that is
        true of the image (see :func:`scene_concepts`).

    Example
    -------
    >>> scene = sample_scene(np.random.default_rng(3), "train")
    >>> sorted(scene)
    ['background', 'concepts', 'layout', 'objects', 'relation', 'split']
    """
    layout = str(rng.choice(LAYOUTS, p=LAYOUT_PROBS))
    background = str(rng.choice(BACKGROUNDS))
    colors = [c for c in COLORS if c not in CLASHES[background]]

    def describe(count):
        return {
            "shape": str(rng.choice(SHAPES)),
            "color": str(rng.choice(colors)),
            "size": str(rng.choice(("big", "small"))),
            "count": count,
        }

    relation = None
    if layout in ("single", "count"):
        groups = [
            describe(1 if layout == "single" else int(rng.integers(2, 4)))
        ]
    else:
        counts = (
            [1, 1] if layout == "pair" else [[2, 1], [1, 2]][rng.integers(2)]
        )
        groups = [describe(counts[0])]
        second = describe(counts[1])
        while (second["shape"], second["color"]) == (
            groups[0]["shape"],
            groups[0]["color"],
        ):
            second = describe(counts[1])
        groups.append(second)
        relation = str(rng.choice(RELATIONS))
    objects = _place(groups, relation, rng)
    scene = {
        "split": split,
        "layout": layout,
        "background": background,
        "objects": objects,
        "relation": relation,
    }
    scene["concepts"] = scene_concepts(scene)
    return scene


def scene_concepts(scene):
    """The language-independent concept ids true of a scene, sorted.

    Shapes, colours, sizes, the background, "two"/"three" for a counted
    group, and for a relation both directions ("above" and "below" for a
    vertical one; "left", "right" and "beside" for a horizontal one), since
    a caption may name the groups in either order.

    Example
    -------
    >>> obj = {"shape": "star", "color": "red", "size": "big", "group": 0}
    >>> scene_concepts({"objects": [obj, dict(obj)], "relation": None,
    ...                 "background": "sky"})
    ['big', 'red', 'sky', 'star', 'two']
    """
    concepts = {scene["background"]}
    counts = {}
    for obj in scene["objects"]:
        concepts.update((obj["shape"], obj["color"], obj["size"]))
        counts[obj["group"]] = counts.get(obj["group"], 0) + 1
    concepts.update(COUNT_WORDS[c] for c in counts.values() if c > 1)
    relation = scene["relation"]
    if relation in HORIZONTAL:
        concepts.update(("left", "right", "beside"))
    elif relation is not None:
        concepts.update(RELATION_CONCEPT[r] for r in ("above", "below"))
    return sorted(concepts)


def _line_positions(n, extent, centre, rng):
    """Centres of ``n`` objects side by side on a line around ``centre``."""
    gap = 6
    span = n * extent + (n - 1) * gap
    start = centre - span / 2 + rng.uniform(-8, 8)
    start = float(np.clip(start, MARGIN, IMAGE_SIZE - MARGIN - span))
    return [start + extent * (i + 0.5) + gap * i for i in range(n)]


def _place(groups, relation, rng):
    """Positions every object of the groups; returns the object list."""
    if relation is None:
        return _place_free(groups[0], rng)
    vertical = relation in ("above", "below")
    first = 0 if relation in ("above", "left_of") else 1  # top or left group
    half = IMAGE_SIZE / 2
    centre = rng.uniform(80, IMAGE_SIZE - 80)  # common line across the axis
    objects = []
    for g, group in enumerate(groups):
        extent = EXTENT[group["size"]]
        if g == first:
            low, high = MARGIN, half - 4
        else:
            low, high = half + 4, IMAGE_SIZE - MARGIN
        along = rng.uniform(low + extent / 2, high - extent / 2)
        for across in _line_positions(group["count"], extent, centre, rng):
            x, y = (across, along) if vertical else (along, across)
            objects.append(_object(group, g, x, y))
    return objects


def _place_free(group, rng):
    """Places a single group anywhere, without overlaps."""
    extent = EXTENT[group["size"]]
    low, high = MARGIN + extent / 2, IMAGE_SIZE - MARGIN - extent / 2
    while True:
        points = rng.uniform(low, high, size=(group["count"], 2))
        gaps = [
            np.abs(points[i] - points[j]).max()
            for i in range(len(points))
            for j in range(i)
        ]
        if all(gap >= extent + 4 for gap in gaps):
            return [_object(group, 0, x, y) for x, y in points]


def _object(group, g, x, y):
    return {
        "shape": group["shape"],
        "color": group["color"],
        "size": group["size"],
        "x": int(round(x)),
        "y": int(round(y)),
        "group": g,
    }


# ------------------------------------------------------------------ drawing
def _jitter_color(rgb, rng, amount=12):
    return tuple(
        int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb
    )


def _shade(rgb, factor):
    return tuple(int(c * factor) for c in rgb)


def _draw_background(draw, name, rng, size):
    s = size / IMAGE_SIZE
    if name == "grass":
        base = _jitter_color((96, 170, 72), rng)
        draw.rectangle((0, 0, size, size), fill=base)
        for _ in range(220):
            x, y = rng.uniform(0, size, 2)
            tone = _jitter_color(_shade(base, rng.uniform(0.7, 1.15)), rng, 6)
            dx = rng.uniform(-3, 3) * s
            draw.line(
                (x, y, x + dx, y - rng.uniform(5, 11) * s),
                fill=tone,
                width=int(2 * s),
            )
    elif name == "sand":
        base = _jitter_color((226, 204, 158), rng)
        draw.rectangle((0, 0, size, size), fill=base)
        for _ in range(500):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(0.6, 1.6) * s
            tone = _shade(base, rng.uniform(0.8, 1.08))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tone)
    elif name == "sky":
        top = np.array(_jitter_color((110, 175, 235), rng), float)
        bottom = np.array(_jitter_color((190, 222, 248), rng), float)
        for row in range(size):
            t = row / (size - 1)
            color = tuple(int(v) for v in top * (1 - t) + bottom * t)
            draw.line((0, row, size, row), fill=color)
        for _ in range(rng.integers(1, 4)):
            cx, cy = rng.uniform(0, size), rng.uniform(0, size)
            for _ in range(4):
                rx, ry = rng.uniform(14, 28) * s, rng.uniform(8, 14) * s
                ox, oy = rng.uniform(-20, 20) * s, rng.uniform(-6, 6) * s
                draw.ellipse(
                    (cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry),
                    fill=(246, 248, 252),
                )
    elif name == "snow":
        base = _jitter_color((234, 238, 245), rng, 6)
        draw.rectangle((0, 0, size, size), fill=base)
        for _ in range(160):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(1, 2.2) * s
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(200, 212, 230))
    else:  # water
        base = _jitter_color((40, 110, 170), rng)
        draw.rectangle((0, 0, size, size), fill=base)
        light = _shade(base, 1.45)
        for _ in range(40):
            x, y = rng.uniform(-10, size), rng.uniform(0, size)
            w = rng.uniform(14, 30) * s
            draw.arc(
                (x, y, x + w, y + w / 3), 200, 340, fill=light, width=int(2 * s)
            )


def _rotate(points, cx, cy, angle):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


@dataclasses.dataclass
class _Pen:
    """One object's pose and colours, shared by the shape drawers.

    Shape points are relative to the centre (``cx``, ``cy``) and rotated by
    ``angle`` when drawn; ``h`` is half the drawn ``extent``.
    """

    draw: ImageDraw.ImageDraw
    fill: tuple
    outline: tuple
    cx: float
    cy: float
    extent: float
    h: float
    angle: float
    line: int

    def point(self, x, y):
        """The image position of the shape point (x, y)."""
        return _rotate([(x, y)], self.cx, self.cy, self.angle)[0]

    def polygon(self, points, color=None):
        """Draws the rotated polygon, filled with color (default: fill)."""
        self.draw.polygon(
            _rotate(points, self.cx, self.cy, self.angle),
            fill=self.fill if color is None else color,
            outline=self.outline,
            width=self.line,
        )

    def disc(self, x, y, r, **style):
        """Draws a circle of radius r centred on the image position (x, y)."""
        self.draw.ellipse((x - r, y - r, x + r, y + r), **style)


def _draw_circle(pen, obj, rng):
    pen.disc(
        pen.cx,
        pen.cy,
        pen.h,
        fill=pen.fill,
        outline=pen.outline,
        width=pen.line,
    )


def _draw_ring(pen, obj, rng):
    width = int(pen.extent * 0.17)
    pen.disc(pen.cx, pen.cy, pen.h, outline=pen.fill, width=width)


def _draw_square(pen, obj, rng):
    a = pen.h * 0.82
    pen.polygon([(-a, -a), (a, -a), (a, a), (-a, a)])


def _draw_triangle(pen, obj, rng):
    h = pen.h
    pen.polygon([(0, -h), (h * 0.95, h * 0.75), (-h * 0.95, h * 0.75)])


def _draw_diamond(pen, obj, rng):
    h = pen.h
    pen.polygon([(0, -h), (h * 0.62, 0), (0, h), (-h * 0.62, 0)])


def _draw_star(pen, obj, rng):
    points = []
    for k in range(10):
        r = pen.h if k % 2 == 0 else pen.h * 0.42
        t = math.pi * k / 5 - math.pi / 2
        points.append((r * math.cos(t), r * math.sin(t)))
    pen.polygon(points)


def _draw_cross(pen, obj, rng):
    a, b = pen.h * 0.3, pen.h * 0.95
    pen.polygon(
        [
            (-a, -b),
            (a, -b),
            (a, -a),
            (b, -a),
            (b, a),
            (a, a),
            (a, b),
            (-a, b),
            (-a, a),
            (-b, a),
            (-b, -a),
            (-a, -a),
        ]
    )


def _draw_heart(pen, obj, rng):
    h = pen.h
    points = []
    for k in range(40):
        t = 2 * math.pi * k / 40
        x = 16 * math.sin(t) ** 3
        y = (
            13 * math.cos(t)
            - 5 * math.cos(2 * t)
            - 2 * math.cos(3 * t)
            - math.cos(4 * t)
        )
        points.append((x * h / 17, -y * h / 17 - h * 0.1))
    pen.polygon(points)


def _draw_house(pen, obj, rng):
    h = pen.h
    pen.polygon(
        [
            (-h * 0.75, -h * 0.05),
            (h * 0.75, -h * 0.05),
            (h * 0.75, h),
            (-h * 0.75, h),
        ]
    )
    pen.polygon(
        [(-h * 0.95, -h * 0.05), (0, -h), (h * 0.95, -h * 0.05)],
        _shade(pen.fill, 0.65),
    )
    pen.polygon(
        [
            (-h * 0.18, h * 0.4),
            (h * 0.18, h * 0.4),
            (h * 0.18, h),
            (-h * 0.18, h),
        ],
        _shade(pen.fill, 0.4),
    )


def _draw_tree(pen, obj, rng):
    h = pen.h
    trunk = (92, 64, 40) if obj["color"] != "brown" else (60, 42, 28)
    pen.polygon(
        [(-h * 0.14, 0), (h * 0.14, 0), (h * 0.14, h), (-h * 0.14, h)],
        trunk,
    )
    for ox, oy, r in (
        (0, -0.42, 0.5),
        (-0.32, -0.12, 0.38),
        (0.32, -0.12, 0.38),
    ):
        x, y = pen.point(ox * h, oy * h)
        pen.disc(
            x,
            y,
            r * h,
            fill=pen.fill,
            outline=pen.outline,
            width=pen.line,
        )


def _draw_car(pen, obj, rng):
    h = pen.h
    body = [(-h, -h * 0.15), (h, -h * 0.15), (h, h * 0.5), (-h, h * 0.5)]
    pen.polygon(body)
    cabin = [(-0.6, -0.15), (-0.4, -0.7), (0.4, -0.7), (0.65, -0.15)]
    pen.polygon([(x * h, y * h) for x, y in cabin])
    window = [(-0.35, -0.22), (-0.25, -0.6), (0.05, -0.6), (0.05, -0.22)]
    pen.polygon([(x * h, y * h) for x, y in window], (200, 220, 235))
    for wx in (-0.55, 0.55):
        x, y = pen.point(wx * h, h * 0.5)
        pen.disc(
            x,
            y,
            h * 0.28,
            fill=(30, 30, 30),
            outline=(90, 90, 90),
            width=pen.line,
        )


def _draw_fish(pen, obj, rng):
    h = pen.h
    side = 1 if rng.random() < 0.5 else -1
    points = []
    for k in range(30):
        t = 2 * math.pi * k / 30
        points.append(
            (
                side * (h * 0.62 * math.cos(t) - h * 0.12),
                h * 0.4 * math.sin(t),
            )
        )
    pen.polygon(points)
    pen.polygon(
        [(side * h * 0.4, 0), (side * h, -h * 0.42), (side * h, h * 0.42)]
    )
    x, y = pen.point(-side * h * 0.42, -h * 0.08)
    r = h * 0.09
    pen.disc(x, y, r, fill=(250, 250, 250))
    pen.disc(x, y, r / 2, fill=(10, 10, 10))


# Drawer of each shape: ``drawer(pen, obj, rng)``.
DRAWERS = {
    "circle": _draw_circle,
    "square": _draw_square,
    "triangle": _draw_triangle,
    "star": _draw_star,
    "cross": _draw_cross,
    "heart": _draw_heart,
    "diamond": _draw_diamond,
    "ring": _draw_ring,
    "house": _draw_house,
    "tree": _draw_tree,
    "car": _draw_car,
    "fish": _draw_fish,
}
if set(DRAWERS) != set(SHAPES):
    raise ImportError(
        f"shape drawers {sorted(DRAWERS)} do not match SHAPES {sorted(SHAPES)}"
    )


def _draw_object(draw, obj, rng, scale):
    """Draws one object centred on (x, y), extent in pixels * scale.

    Raises
    ------
    ValueError
        If the object's shape has no drawer.
    """
    shape = obj["shape"]
    if shape not in DRAWERS:
        raise ValueError(
            f"unknown shape {shape!r}; known shapes: {', '.join(DRAWERS)}"
        )
    fill = _jitter_color(RGB[obj["color"]], rng)
    extent = EXTENT[obj["size"]] * rng.uniform(*SHRINK) * scale
    pen = _Pen(
        draw=draw,
        fill=fill,
        outline=_shade(fill, 0.5),
        cx=obj["x"] * scale,
        cy=obj["y"] * scale,
        extent=extent,
        h=extent / 2,
        angle=math.radians(rng.uniform(-12, 12)),
        line=max(1, int(round(scale))),
    )
    DRAWERS[shape](pen, obj, rng)


def render_scene(scene, seed):
    """Draws a scene as a 224x224 RGB image.

    Arguments
    ---------
    scene : dict
        A scene from :func:`sample_scene`.
    seed : list of int
        Seed of the drawing jitter (the same seed gives the same pixels).

    Returns
    -------
    PIL.Image.Image
        The RGB image.

    Example
    -------
    >>> scene = sample_scene(np.random.default_rng(0), "test")
    >>> render_scene(scene, [0]).size
    (224, 224)
    """
    rng = np.random.default_rng(seed)
    size = IMAGE_SIZE * SUPERSAMPLE
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    _draw_background(draw, scene["background"], rng, size)
    for obj in scene["objects"]:
        _draw_object(draw, obj, rng, SUPERSAMPLE)
    return image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
