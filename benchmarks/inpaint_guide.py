"""Choose the scene fill's exemplar start (issue 24: guided, or pulled towards Telea) on validation photos.

Each variant fills CBSD68-style masks (`--mask box|thick`, seeded per image) on every K-th BSDS
training photo and reports hole PSNR, SWD and gradient ratio (restore.metrics):

    telea / pm                         OpenCV Telea; PatchMatch (pypatchmatch, 7x7 patches)
    fill:NAME                          the CLI with --fill NAME (mean, scene, sample, ...)
    R:RADIUS                           the CLI's default, --fill auto switching to scene above RADIUS px
    S:K[:SIGMA] / O:K / M:K            the CLI's default with seeds 0..K-1 (the scene fill's PatchMatch search):
                                       the one the prior moves least over the hole (D(x + SIGMA n) - x, 0.1),
                                       the one with the best hole PSNR (an oracle: any choice's headroom),
                                       their mean
    D:GAIN                             the CLI's default with the scene fill's detail matched at most GAIN
                                       times (exemplar_fill's detail_gain; 0: not matched)
    K:LO:HI                            the CLI's default with the pull fading out where the copy's and the
                                       target's low frequencies differ by LO to HI (0-255 units;
                                       exemplar_fill's pull_keep)
    B:PX                               the CLI's default with the border band's patches from within PX
                                       pixels of the hole's box (exemplar_fill's band_context; 0: anywhere)
    scene[:SIGMA:N[:ETA]]              the CLI's default (restore.tasks.inpaint as shipped), optionally
                                       refined by ddnm from SIGMA in N steps instead of the recipe's
                                       (ETA: ddnm's eta, and ddnm for every crop)
    G:GUIDE[5]:WEIGHT:BLUR             guided PatchMatch alone (5: 11x11 patches, else 7x7)
    g:GUIDE[5]:WEIGHT:BLUR[:SIGMA[:N]] the same refined by the scene recipe (ddnm from SIGMA, N steps)
    P:PULL:BLUR[:BAND]                 unguided 11x11 PatchMatch, its Gaussian-BLUR low frequencies moved
                                       PULL of the way towards Telea's (exemplar_fill's pull; no refinement);
                                       BAND: the border band PatchMatch fills first (BORDER_BAND; 0, the
                                       default here: one pass)

GUIDE: telea | pp (push-pull) | mean (the prior's posterior mean), blurred by BLUR px.

    OMP_NUM_THREADS=2 python benchmarks/inpaint_guide.py ../shared/data/train/bsds 16 23 box,thick \
        "telea;pm;G:telea5:1:4;G:telea5:2:4;G:telea5:1:3;G:telea:1:4;g:telea5:2:4:0.08:4"
    OMP_NUM_THREADS=2 python benchmarks/inpaint_guide.py ../shared/data/train/bsds 16 23 box,thick \
        "G:telea5:2:4;P:0:8;P:1:8;P:0.5:8;P:1:16;P:1:4"
    OMP_NUM_THREADS=2 python benchmarks/inpaint_guide.py ../shared/data/train/bsds 16 23 box,thick \
        "telea;pm;scene:0.005:1;scene:0.02:2;scene:0.04:3;scene"

With telea and pm in the list, the paired per-image differences follow each table (mean, standard
deviation, and the standard error of an 8-image mean, the size of the CBSD68 1-8 bar):

    OMP_NUM_THREADS=2 python benchmarks/inpaint_guide.py ../shared/data/train/bsds 32 12 box,thick "telea;pm;scene"
"""
import functools, sys, time, numpy as np, torch, cv2
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[1]))
from restore.api import run, get_prior
from restore.evaluate import load_dataset, make_case
from restore.tasks import get_task
import restore.tasks.inpaint as ip
from restore.metrics import swd, gradient_ratio
from restore.tasks.base import psnr_where
from patchmatch import patch_match as pm
from _usage import usage
usage(__doc__, 5)
torch.set_num_threads(2)
tk = get_task("inpaint")
prior = get_prior(None, torch.device("cpu"))
root, n, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = load_dataset(root, n, every)
masks = sys.argv[4].split(",")
sel = sys.argv[5].split(";")
orig_fill = ip.exemplar_fill

def guide_of(img, hole, kind, blur):
    if kind == "telea":
        g = cv2.inpaint(img, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    elif kind == "pp":
        t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        m = torch.from_numpy(~hole)[None, None].float()
        g = (ip.push_pull_fill(t, m)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    elif kind == "mean":
        t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        r = run(t, "inpaint", prior=prior, known=torch.from_numpy(~hole)[None], fill="mean", local=False)
        g = (r.image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return ip.guide_map(g, blur)  # blurred, as luma and red-minus-blue (the shipped fill's guide)

def guided_fill_factory(kind, w, blur, patch=3, chans="yc"):
    def f(x, known, patch_=3, seed=0):
        B, C, H, W = x.shape
        k = known.to("cpu").bool()
        k = k.reshape(-1, *k.shape[-3:]) if k.ndim == 4 else k.reshape(1, -1, H, W)
        out = []
        for b in range(B):
            hole = ~k[b % k.shape[0]].all(0).numpy()
            img = (x[b].float().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            ij = guide_of(img, hole, kind, blur)
            pm.set_random_seed(seed)
            fl = pm.inpaint_regularity(np.ascontiguousarray(img), hole.astype(np.uint8) * 255, ij, patch_size=patch, guide_weight=w)
            out.append(torch.from_numpy(fl.astype(np.float32) / 255).permute(2, 0, 1))
        return torch.stack(out)
    return f

_seed_cache = {}


def cached_seed(c, s_):
    """The CLI's default on case ``c`` with seed ``s_`` (the scene fill's PatchMatch search), made once."""
    key = (c.name, c.params.get("mask"), s_)
    if key not in _seed_cache:
        _seed_cache[key] = run(c.y, "inpaint", prior=prior, known=c.known, seed=s_).image
    return _seed_cache[key]


def prior_residual(o, hole, sig, margin=16):
    """How far the prior moves a fill: the mean square of D(o + sig n, sig) - o over the hole (its box
    grown by margin), the noise n the same for every candidate."""
    ys, xs = np.nonzero(hole.numpy())
    H, W = hole.shape
    y0, y1 = max(0, ys.min() - margin), min(H, ys.max() + 1 + margin)
    x0, x1 = max(0, xs.min() - margin), min(W, xs.max() + 1 + margin)
    oc = o[..., y0:y1, x0:x1].clamp(0, 1)
    n = torch.randn(oc.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        d = prior(oc + sig * n, sig) - oc
    return float((d ** 2)[..., hole[y0:y1, x0:x1]].mean())


rows = {}
for mk in masks:
    cases = [make_case("inpaint", nm, img, i, mask=mk) for i, (nm, img) in enumerate(data)]
    for c in cases:
        h = ~c.known[0]
        def sc(o): o = o.clamp(0, 1); return (psnr_where(o, c.gt, h), swd(o, c.gt, h), gradient_ratio(o, c.gt, h))
        for v in sel:
            t = time.time()
            if v == "telea":
                o = tk.baselines["opencv-telea"](c)
            elif v == "pm":
                o = tk.baselines["patchmatch"](c)
            elif v.split(":")[0] == "scene":
                ip.exemplar_fill = orig_fill
                kw = {}
                if ":" in v:
                    kw = dict(sigma_max=float(v.split(":")[1]), steps=int(v.split(":")[2]))
                if v.count(":") == 3:  # the refinement's eta (ddnm for every crop, thin ones too)
                    kw.update(sampler="ddnm", eta=float(v.split(":")[3]))
                o = run(c.y, "inpaint", prior=prior, known=c.known, **kw).image
            elif v.startswith("D:"):  # the CLI's default with exemplar_fill's detail matching at another gain
                ip.exemplar_fill = functools.partial(orig_fill, detail_gain=float(v[2:]))
                o = run(c.y, "inpaint", prior=prior, known=c.known).image
                ip.exemplar_fill = orig_fill
            elif v.startswith("K:"):  # the CLI's default with the pull kept off large disagreements
                lo, hi = (float(a) / 255 for a in v[2:].split(":"))
                ip.exemplar_fill = functools.partial(orig_fill, pull_keep=(lo, hi))
                o = run(c.y, "inpaint", prior=prior, known=c.known).image
                ip.exemplar_fill = orig_fill
            elif v.startswith("B:"):  # the CLI's default with the border band's sources from another reach
                ip.exemplar_fill = functools.partial(orig_fill, band_context=int(v[2:]))
                o = run(c.y, "inpaint", prior=prior, known=c.known).image
                ip.exemplar_fill = orig_fill
            elif v[:2] in ("S:", "O:", "M:"):  # K seeds of the CLI's default: by the prior, by the truth, averaged
                _, k, *sg = v.split(":")
                outs = [cached_seed(c, int(s_)) for s_ in range(int(k))]
                if v.startswith("M:"):
                    o = torch.stack(outs).mean(0)
                elif v.startswith("O:"):  # the oracle: the seed whose hole PSNR is best (the headroom of any choice)
                    o = max(outs, key=lambda t: psnr_where(t.clamp(0, 1), c.gt, h))
                else:
                    sig = float(sg[0]) if sg else 0.1
                    o = min(outs, key=lambda t: prior_residual(t, h, sig))
            elif v.startswith("fill:"):  # the CLI with --fill NAME
                o = run(c.y, "inpaint", prior=prior, known=c.known, fill=v[5:]).image
            elif v.startswith("R:"):  # the CLI's default with --fill auto's switch at another radius
                ip.SCENE_RADIUS, keep = float(v[2:]), ip.SCENE_RADIUS
                o = run(c.y, "inpaint", prior=prior, known=c.known).image
                ip.SCENE_RADIUS = keep
            elif v.startswith("P:"):
                _, pull, blur, *band = v.split(":")
                o = orig_fill(c.y, c.known, guide_weight=0.0, pull=float(pull), pull_blur=float(blur),
                              band=float(band[0]) if band else 0.0)
                o = torch.where(c.known[None], c.gt, o)
            elif v.startswith("g:") or v.startswith("G:"):
                a = v.split(":")
                kind = a[1]; patch = 3
                if kind.endswith("5"): kind, patch = kind[:-1], 5
                ip.exemplar_fill = guided_fill_factory(kind, float(a[2]), float(a[3]), patch=patch)
                if v.startswith("G:"):  # raw guided PM, no refinement
                    o = ip.exemplar_fill(c.y, c.known)
                    o = torch.where(c.known[None], c.gt, o)
                else:
                    kw = {}
                    if len(a) > 4: kw["sigma_max"] = float(a[4])
                    if len(a) > 5: kw["steps"] = int(a[5])
                    o = run(c.y, "inpaint", prior=prior, known=c.known, fill="scene", **kw).image
                ip.exemplar_fill = orig_fill
            rows.setdefault((mk, v), []).append(sc(o) + (time.time() - t,))
        print(c.name, mk, {v: tuple(round(float(t), 2) for t in rows[(mk, v)][-1][:2]) for v in sel}, flush=True)
    print(f"\n{mk}, {len(cases)} images of {root}")
    print("| method | hole PSNR | hole SWD | grad ratio | s |\n|---|---|---|---|---|")
    for (m2, k), v in rows.items():
        if m2 != mk: continue
        v = np.array(v); print(f"| {k} | {v[:,0].mean():.2f} | {v[:,1].mean():.0f} | {v[:,2].mean():.2f} | {v[:,3].mean():.1f} |", flush=True)
    # paired per-image differences: is a bar measured on 8 images (CBSD68 1-8) decided by the method or the draw?
    ref = {r: np.array(rows[(mk, r)]) for r in ("telea", "pm") if (mk, r) in rows}
    if ref:
        print("\n| method | PSNR - Telea (sd; se of 8) | SWD - PatchMatch (sd; se of 8) |\n|---|---|---|")
        for (m2, k), v in rows.items():
            if m2 != mk or k in ref: continue
            v = np.array(v); cells = []
            for r, col in (("telea", 0), ("pm", 1)):
                if r in ref:
                    d = v[:, col] - ref[r][:, col]
                    sd = d.std(ddof=1) if len(d) > 1 else float("nan")
                    cells.append(f"{d.mean():+.2f} ({sd:.2f}; {sd / np.sqrt(8):.2f})")
                else:
                    cells.append("")
            print(f"| {k} | " + " | ".join(cells) + " |", flush=True)
    if (mk, "scene") in rows:  # every variant against the shipped default, paired
        base = np.array(rows[(mk, "scene")])
        print("\n| method | PSNR - scene (se) | SWD - scene (se) |\n|---|---|---|")
        for (m2, k), v in rows.items():
            if m2 != mk or k == "scene": continue
            d = np.array(v)[:, :2] - base[:, :2]
            se = d.std(0, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else [float("nan")] * 2
            print(f"| {k} | {d[:, 0].mean():+.3f} ({se[0]:.3f}) | {d[:, 1].mean():+.1f} ({se[1]:.1f}) |", flush=True)
