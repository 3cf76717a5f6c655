"""Give a grey generated section an H&E-like colour, keeping its optical density.

`radiopath synth section` renders grey sections (R = G = B). The tissue detector looks for
saturation and `radiopath cells` separates haematoxylin by colour deconvolution, so each pixel's
grey optical density OD = -log10(grey / glass) is spread over a fixed purple-pink H&E colour direction:
darker pixels (the generator's nuclei-like dots, T2-dark stroma) stay darker, glass stays glass.
Nothing is added: the ordering of every pixel's darkness is the generator's.

    python stain.py section.png stained.png thumb.png [THUMB_DOWNSAMPLE]
"""
import sys

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None
src, dst, thumb = sys.argv[1:4]
down = int(sys.argv[4]) if len(sys.argv) > 4 else 8

grey = np.asarray(Image.open(src).convert("L"), dtype=np.float64) / 255.0
# Glass (the image border) is the white reference, as a scanner's flat-field correction.
b = max(1, min(grey.shape) // 20)
glass = np.median(np.concatenate([grey[:b].ravel(), grey[-b:].ravel(), grey[:, :b].ravel(), grey[:, -b:].ravel()]))
od = np.maximum(0.0, -np.log10(np.clip(grey, 1.0 / 255.0, 1.0) / glass))
# Half haematoxylin, half eosin (Ruifrok & Johnston's unit OD vectors), normalised so the
# mean channel OD equals the grey OD.
h = np.array([0.650, 0.704, 0.286])
e = np.array([0.072, 0.990, 0.105])
v = h + e
v = v / v.mean()
rgb = 255.0 * np.power(10.0, -od[..., None] * v[None, None, :])
out = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
out.save(dst, compress_level=1)
out.resize((max(1, out.width // down), max(1, out.height // down)), Image.BOX).save(thumb)
