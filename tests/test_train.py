import json

import numpy as np

from restore.io import write_image
from restore.prior import load_prior
from restore.train import TrainConfig, train


def _images(d, n=5):
    rng = np.random.default_rng(0)
    d.mkdir()
    for i in range(n):
        h, w = rng.integers(20, 70, size=2)
        img = (rng.random((h, w, 3) if i % 2 else (h, w)) * 255).astype(np.uint8)
        write_image(d / f"im{i}.png", img)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return d


def test_train_tiny_prior_and_resume(tmp_path):
    data = _images(tmp_path / "data")
    cfg = TrainConfig(steps=4, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16,
                      warmup=2, checkpoint_every=2, eval_every=2)
    out = tmp_path / "prior"
    logs = []
    train(data, out, cfg, val_dir=data, val_count=2, val_crop=32, callback=logs.append)
    p = load_prior(out)
    assert p.info["steps"] == 4 and p.info["images"] == 5
    assert any("val_psnr_sigma25" in r for r in logs)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4
    cfg.steps = 6
    train(data, out, cfg, resume=True)
    assert load_prior(out).info["steps"] == 6
    lines = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == 6
