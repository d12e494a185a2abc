"""What a task is: its forward operator ``y = A x + n`` (deepinv's ``physics``, DDRM's
``H_functions``) and its declaration (:class:`Task`: parameters, sampler defaults, how the
operator is built from them, and how it is evaluated).

Every operator here has a singular value decomposition ``A = U diag(s) V^T`` that is cheap
to apply, which gives the pseudo-inverse, the proximal step of the data term and DDRM's
spectral updates from one place. Subclasses override ``A`` / ``A_adjoint`` / ``A_dagger``
where a direct formula is faster.

Conventions: ``x`` is ``(B, C, H, W)`` in [0, 1]; the spectral coefficients ``V^T x`` have
the shape of ``x``; ``U^T y`` is returned zero-padded to that shape as well, with the
singular values (zero where nothing is measured) in ``singulars`` (broadcastable).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError, UsageError
from ..io import to_tensor
from ..metrics import psnr, ssim
from ..noise import estimate_sigma
from . import CAPABILITIES

__all__ = ["CAPABILITIES", "SPEC_FORM", "Case", "Operator", "Param", "Recipe", "Task"]

#: a value of the form NAME:NUMBERS ("gaussian:1.6,25"): a spec, never read as a file name (a task
#: parameter that takes either, deblur's kernel, does not look on the disk for it; the browser app takes
#: no other form for such a parameter, so that its answers tell nothing of the server's files)
SPEC_FORM = re.compile(r"[A-Za-z]+\s*:\s*[-+0-9.,eE ]*")


class Operator:
    """Base class of a task's forward operator.

    Attributes
    ----------
    x_shape : tuple
        ``(C, H, W)`` of the image being restored.
    sigma_y : float
        Standard deviation of the measurement noise (image units).
    capabilities : frozenset of str
        Subset of :data:`CAPABILITIES`.
    """

    capabilities: frozenset = frozenset({"pinv", "svd", "grad"})
    task: str = ""

    def __init__(self, x_shape: tuple[int, int, int], sigma_y: float = 0.0) -> None:
        if sigma_y < 0:
            raise ValueError(f"sigma_y must be >= 0, got {sigma_y}")
        self.x_shape = tuple(int(v) for v in x_shape)
        self.sigma_y = float(sigma_y)
        self.noise = self.sigma_y  # the measurement's own noise, as reported (sigma_y may add a model error)

    # -- SVD parts (subclasses implement) -----------------------------------------
    def Vt(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def V(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def Ut(self, y: torch.Tensor) -> torch.Tensor:
        """``U^T y`` zero-padded to the spectral shape (that of ``x``)."""
        raise NotImplementedError

    def U(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`Ut` on the measured coefficients."""
        raise NotImplementedError

    def singulars(self, like: torch.Tensor) -> torch.Tensor:
        """Singular values, broadcastable to the spectral shape (0 = not measured)."""
        raise NotImplementedError

    # -- derived -------------------------------------------------------------------
    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.U(self.singulars(x) * self.Vt(x))

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.V(self.singulars(y) * self.Ut(y))

    def A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        s = self.singulars(y)
        return self.V(torch.where(s > 0, self.Ut(y) / s.clamp(min=1e-12), torch.zeros_like(s)))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``A_dagger A x``: the part of ``x`` the measurement sees (row space)."""
        return self.A_dagger(self.A(x))

    def prox(self, z: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
        """``argmin_x ||y - A x||^2 + rho ||x - z||^2`` (exact, through the SVD)."""
        s = self.singulars(z)
        zt, ut = self.Vt(z), self.Ut(y)
        if rho <= 0:
            xt = torch.where(s > 0, ut / s.clamp(min=1e-12), zt)
        else:
            xt = (s * ut + rho * zt) / (s * s + rho)
        return self.V(xt)

    def measure(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Synthesise ``y = A x + sigma_y n`` from a clean image (for evaluation)."""
        y = self.A(x)
        if self.sigma_y > 0:
            n = torch.randn(y.shape, generator=generator, device=_gen_device(generator)).to(y)
            y = y + self.sigma_y * self._noise_support(n)
        return y

    def _noise_support(self, n: torch.Tensor) -> torch.Tensor:
        return n

    def init(self, y: torch.Tensor) -> torch.Tensor:
        """A starting estimate of ``x`` from ``y`` (the pseudo-inverse)."""
        return self.A_dagger(y)

    def finish(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The sampler's result as returned to the user (inpainting keeps known pixels)."""
        return out

    def denoiser(self, prior):
        """The ``D(x, sigma)`` the sampler runs: the prior itself, made for white Gaussian
        noise. An operator whose measurement error is not white overrides this (JPEG's is
        shaped by the quantisation table: :class:`restore.tasks.dejpeg.BandDenoiser`)."""
        return prior

    def describe(self) -> dict:
        return {"task": self.task, "sigma_y": self.sigma_y}


def _gen_device(g: torch.Generator | None) -> torch.device:
    return g.device if g is not None else torch.device("cpu")


# -- the declaration -----------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One parameter of a task: API keyword, CLI option, type, range and help.

    ``unit`` converts the command line's value into the API's (``api = cli / unit``: noise
    levels are 0-255 on the command line and [0, 1] in the API). ``range`` is in CLI units.
    ``cli=False``: API only (e.g. an in-memory mask); ``switch``: an on/off CLI flag.
    """

    name: str
    type: type = float
    default: Any = None
    help: str = ""
    choices: tuple = ()
    range: tuple | None = None
    unit: float = 1.0
    required: bool = False
    cli: bool = True
    switch: bool = False
    flag: str | None = None  # the CLI option when not --<name>
    metavar: str | None = None  # the CLI help's name for the value (click's default: its type)
    many: bool = False  # ``restore eval``: comma-separated values, one evaluation each (dejpeg's --quality)
    scaled: bool | None = None  # in the image's own units (scaled with it); None: a noise level (unit 255) is
    auto: bool = False  # None is the task's own choice, which may also be given as "auto" (the word --json records)

    @property
    def intensity(self) -> bool:
        """Whether the value is in the image's units (a noise level, a first guess), scaled with it
        where 16-bit data run on their own range (``restore.api.run``'s ``bits``)."""
        return self.unit == 255.0 if self.scaled is None else self.scaled

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def cli_default(self) -> Any:
        """The default as the command line (and ``restore ui``) shows it: in CLI units, a
        choice as text."""
        d = self.default
        if d is not None and self.unit != 1 and not self.switch:
            d = d * self.unit
        return str(d) if d is not None and self.choices else d

    def from_cli(self, value: Any) -> Any:
        """The API value of a command-line value (choices come as text; ``/ unit``)."""
        if value is None:
            return None
        if self.choices and self.type is not str:
            value = self.type(value)
        return value / self.unit if self.unit != 1 else value

    def check(self, value: Any) -> Any:
        """The API value, validated (a clear :class:`InputError` otherwise)."""
        if value is None or self.type not in (int, float, str):
            return value
        if self.auto and isinstance(value, str) and value == "auto":  # (a trial: --json said auto, --mask-dilate
            return None  # auto was refused)
        if self.type is not str and _scalar(value):  # a 0-d tensor or array (torch.tensor(0.06)): its number
            value = value.item()
        if self.type is str:
            value = str(value)
        elif isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InputError(f"{self.name} must be a number, got {value!r}")
        elif self.type is int and not (math.isfinite(value) and float(value).is_integer()):
            raise InputError(f"{self.name} must be a whole number, got {value!r}")  # never truncated in silence
        if self.choices and value not in self.choices:
            raise InputError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.range is not None and self.type is not str:
            lo, hi = (v / self.unit for v in self.range)
            if not (math.isfinite(value) and lo <= value <= hi):
                unit = "" if self.unit == 1 else f" in API units ({self.range[0]:g}-{self.range[1]:g} on the CLI)"
                raise InputError(f"{self.name} must be in [{lo:g}, {hi:g}]{unit}, got {value}")
        return self.type(value)


def _scalar(value: Any) -> bool:
    """A 0-d torch tensor or numpy array of numbers (not bool)."""
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and value.dtype != torch.bool and not value.is_complex()
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"


def level_text(v: float) -> str:
    """A noise level in 0-255 units as a note gives it to type: whole from 1 up, else two
    significant digits (8- or 10-bit data in a 16-bit file read levels under 1: "--sigma 0" was
    told)."""
    return f"{v:.0f}" if v >= 1 else f"{v:.2g}"


# -- what an image holds -----------------------------------------------------------------------
def _samples(a, visible=None) -> np.ndarray:
    """``a`` (``H x W (x C)`` uint8 or uint16, or a ``(1, C, H, W)`` / ``(C, H, W)`` tensor in
    [0, 1], taken at 16 bits: a low-contrast 16-bit photo rounded to 8 read as 6 grey levels) as
    ``N x C`` integers: its pixels, or those ``visible`` (``H x W`` bool) marks, at most about a
    million of them (an even grid)."""
    if isinstance(a, torch.Tensor):
        t = a[0] if a.ndim == 4 else a
        a = (t.clamp(0, 1) * 65535).round().to(torch.int32).permute(1, 2, 0).cpu().numpy()
    a = np.asarray(a)
    a = a.reshape(a.shape[0], a.shape[1], -1)
    step = max(1, int(np.sqrt(a.shape[0] * a.shape[1] / 1e6)))
    if visible is not None and tuple(np.shape(visible)) == a.shape[:2]:
        return a[::step, ::step][np.asarray(visible, bool)[::step, ::step]].astype(np.int64)
    return a[::step, ::step].reshape(-1, a.shape[2]).astype(np.int64)


def colour_counts(a, visible=None) -> tuple[np.ndarray, int]:
    """How many pixels each colour of ``a`` covers (a grey image, or RGB with equal channels, by
    its one level); only the ``visible`` pixels where given (an alpha channel's)."""
    flat = _samples(a, visible)
    if flat.shape[1] > 1 and bool((flat == flat[:, :1]).all()):  # grey stored as RGB: a grey image
        flat = flat[:, :1]
    key = np.zeros(len(flat), np.int64)
    for c in range(flat.shape[1]):
        key = key * 65536 + flat[:, c]
    return np.unique(key, return_counts=True)[1] if len(key) else np.zeros(0, np.int64), flat.shape[1]


def colours(a, visible=None) -> int:
    """The number of distinct colours in ``a`` (as :func:`colour_counts` counts them: sr's drawn
    check, dejpeg's flat drawings)."""
    return len(colour_counts(a, visible)[0])


@dataclass
class Case:
    """One degraded test image of ``restore eval``: measurement, ground truth, how to run
    and score it."""

    name: str
    gt: torch.Tensor  # (1, C, H, W) in [0, 1]
    y: torch.Tensor  # the measurement given to run()
    task: str
    params: dict = field(default_factory=dict)  # what was done (reported)
    run: dict = field(default_factory=dict)  # keywords of run() besides the measurement
    y_uint8: np.ndarray | None = None  # the measurement quantised (for tools that take uint8)
    known: torch.Tensor | None = None  # inpainting: (1, H, W) bool, True = observed


@dataclass(frozen=True)
class Recipe:
    """A default sampler and its measured settings (see :meth:`Task.recipe`)."""

    sampler: str
    steps: int
    sigma_max: float | None = None
    spacing: str = "karras"
    sigma_min: float | None = None
    options: tuple = ()


class Task:
    """A task's declaration, read by the API, the command line, ``restore eval`` and
    ``restore list`` (none of which names a task).

    A subclass sets the class attributes and overrides the hooks it needs; adding a task is
    one module with a subclass and one ``TASKS.register`` line in :mod:`restore.tasks`.

    Attributes
    ----------
    params : tuple of Param
        Keywords of :func:`restore.api.run` (and CLI options) that build the operator.
    files : tuple of str
        Extra inputs the command line reads from files (positional arguments, paired with
        the images by file stem in folder mode); :meth:`load` turns them into parameters.
    eval_params : tuple of Param
        Options of ``restore eval TASK``: the synthetic degradation.
    sampler, steps, sigma_max, spacing, sigma_min, options
        The default sampler and its measured settings (``benchmarks/choose_defaults.py``);
        another sampler runs with its own (see :class:`restore.registry.SamplerSpec`).
    baselines : dict
        Classical tools for ``restore eval --baselines``: name -> function(case) -> image;
        ``given`` names the row of the measurement itself (the input), which comes with them.
    pairs : bool
        Whether ``restore eval --pairs`` can score real measured/clean pairs (``degrade``
        then takes the measurement as ``measured``).
    """

    name = ""
    summary = ""
    operator: type[Operator] = Operator
    params: tuple[Param, ...] = ()
    #: parameters a batch may give one array per image, as a list (inpainting's masks): a list of
    #: images runs images with different arrays of another parameter (a kernel) in batches of their own
    per_image: frozenset[str] = frozenset()
    files: tuple[str, ...] = ()
    eval_params: tuple[Param, ...] = ()
    sampler = "dpir"
    steps = 20
    sigma_max: float | None = None
    spacing = "karras"
    sigma_min: float | None = None
    options: tuple = ()
    baselines: dict[str, Callable[[Case], torch.Tensor]] = {}
    slow_baselines: frozenset = frozenset()  # run on the first --slow-limit images only
    #: classical tools left out of ``baselines`` because their package is not installed: name -> how to get it
    missing_baselines: dict[str, str] = {}
    #: the task draws with the run's seed itself, whatever the sampler (inpainting's scene fill)
    seeded = False
    #: what the seed draws besides a sampler's noise, for ``--seed``'s help (a ``seeded`` task's)
    seed_help = ""
    #: the command line's units of a reported value that is no parameter (denoise's ``level_read``: 255)
    reported_units: dict[str, float] = {}
    #: the name of ``restore eval --baselines``' row for the measurement as given (the noisy input, the JPEG's
    #: decode): the input the methods start from, not a tool; only where the measurement has the truth's shape
    #: (super-resolution's has not: its rows are tools that make one)
    given: str | None = None
    # the public helper (restore.<TaskSpec.helper>), made by restore.api.task_helper: its
    # arguments after the image (a name, or (name, default)) and its docstring ({params}: the
    # keywords restore() takes; examples run as doctests)
    helper_args: tuple = ()
    helper_doc: str = ""
    pairs = False  # restore eval --pairs: degrade() takes a real measurement (``measured``)
    #: a folder whose images of one size read spread noise levels ends with their median, to give as
    #: ``--sigma`` to all (a video's frames: denoise); a level read by another task is no such option
    one_level_hint = False
    #: restore eval's method without --samplers: the default sampler (None), or
    #: restore.registry.DEFAULT_METHOD (the command line's recipe per case)
    eval_method: str | None = None

    @property
    def capabilities(self) -> frozenset:
        return self.operator.capabilities

    # -- the API ------------------------------------------------------------------------
    def check(self, x: torch.Tensor, p: dict) -> dict:
        """Validate the parameters against the input ``(B, C, H, W)`` before any work;
        returns them with the defaults filled in."""
        out = {}
        for q in self.params:
            v = p.get(q.name)
            v = q.default if v is None else v  # None given: the default, as when left out
            if v is None and q.required:
                raise InputError(f"{self.name} needs {q.name}")
            out[q.name] = q.check(v)
        return out

    def check_usage(self, p: dict) -> None:
        """Refuse parameters that are wrong whatever the image (a kernel spec that means
        nothing, options that do not go together) with a :class:`RestoreError`: the command
        line calls this before any work and exits 2."""

    def option_files(self, p: dict) -> dict[str, Path]:
        """The files the parameters name, by parameter (inpainting's ``exclude``): the
        command line checks that they exist with the image's own files (a missing one is a
        failed input, exit 1), and never writes an output over one."""
        return {}

    def check_option_files(self, p: dict) -> None:
        """Read the files the parameters name that serve every image alike (deblur's kernel) and
        refuse one that cannot (an :class:`InputError`: the command line exits 1 before any work,
        the browser app answers the job's submit; a folder failed image by image). The default:
        none to read."""

    def reported(self, p: dict) -> dict:
        """The parameters as this task ran with them, for the result's ``params`` (an option
        left to the task, such as inpainting's ``fill="auto"``, as it was resolved)."""
        return p

    #: what ``restore list`` says of the default recipe's first noise level when it is set per
    #: input (``sigma_max`` None with a recipe that derives it), instead of "from pure noise"
    start_note: str | None = None
    #: what ``restore list`` adds to the default recipe where it is not the one for every input
    default_note: str | None = None

    def settled_note(self, params: dict) -> str | None:
        """The line telling what else the task settled from an image (a result's reported
        ``params``), said beside the noise level's note: super-resolution's kernel for a drawn
        image. The default: None, nothing."""
        return None

    def estimated_note(self, params: dict, sigma: float, to_try: float | None = None) -> str:
        """The line telling what was estimated for an image (``params``: the result's reported
        parameters; ``sigma``: the noise level in [0, 1] units; ``to_try``: what
        :meth:`sigma_to_try` offers)."""
        return f"estimated noise sigma = {sigma * 255:.2f} (0-255 units)"

    def settle_level(self, op, y: torch.Tensor, p: dict, prior) -> tuple[Any, dict]:
        """A measurement noise level estimated from the image (:meth:`estimates`), checked with
        the ``prior`` (as ``op.denoiser(prior)``) before the sampler runs: the operator (``op``,
        or one told another level) and what to report of it. The default: as it is."""
        return op, {}

    def refine(self, op, y: torch.Tensor, out: torch.Tensor, p: dict, prior) -> tuple[torch.Tensor, dict]:
        """A last step of the task's own on the sampler's result ``out`` (after ``op.finish``), with
        the ``prior`` (as ``op.denoiser(prior)``): the result and what to report of it. The
        default: none."""
        return out, {}

    def sigma_to_try(self, params: dict, sigma: float, x: torch.Tensor) -> float | None:
        """A noise level worth trying ([0, 1] units) where the one estimated for the image ``x``
        may have missed noise, or None (the default: none)."""
        return None

    def left_as_is(self, op: Operator) -> bool:
        """Whether the measurement is the answer, so that no sampler runs whatever its steps (the
        default: an identity operator with no noise, denoising at level 0, where every sampler's
        steps hand back the input)."""
        return "identity" in op.capabilities and not bool(torch.as_tensor(op.sigma_y).gt(0).any())

    def recipe(self, p: dict) -> Recipe:
        """The default sampler and its settings for these parameters (the class attributes;
        a task may choose by parameter, e.g. inpainting's ``fill``)."""
        return Recipe(self.sampler, self.steps, self.sigma_max, self.spacing, self.sigma_min, self.options)

    def last_level(self, op: Operator) -> float | None:
        """The default sampler's last nonzero noise level for this problem when its recipe
        sets none (None: the schedule's bottom)."""
        return None

    def regions(self, x: torch.Tensor, p: dict, multiple: int) -> list | None:
        """``None`` (the default): the whole image is one problem. Otherwise the only parts
        worth solving, as ``[(box, params, take, rows), ...]``: the crop ``(y0, y1, x0, x1)``
        (on the grid of ``multiple``, the network's, where the image allows), the task
        parameters of its own problem, the bool mask (broadcastable to the crop) of the
        pixels its result replaces, and the batch's images it concerns (a list of indices);
        the rest of the output is the input (:func:`restore.api.run`)."""
        return None

    def out_size(self, h: int, w: int, p: dict) -> tuple[int, int]:
        """Output size for an input of ``h x w``."""
        return h, w

    def tile_scale(self, p: dict) -> int | None:
        """``None`` when the operator is pointwise (the prior tiles its own calls); else the
        output / input scale of a problem that must be solved tile by tile when large."""
        return None

    def build(self, x: torch.Tensor, p: dict) -> tuple[Operator, torch.Tensor, bool]:
        """The operator, the measurement ``y`` for the sampler, and whether the noise level
        was estimated (``x`` is the user's input)."""
        raise NotImplementedError

    def takes(self, name: str) -> bool:
        """Whether the task declares a parameter ``name`` (deblur's ``kernel``; dejpeg takes no ``sigma``)."""
        return any(q.name == name for q in self.params)

    def estimates(self, p: dict) -> bool:
        """Whether :meth:`build` will estimate the measurement noise from the image (a
        ``sigma`` parameter left out), so that a batch must be built image by image."""
        return self.takes("sigma") and p.get("sigma") is None

    def settled(self, p: dict) -> dict:
        """What :meth:`check` settled from the image itself (super-resolution's JPEG tables
        read from the pixels), given to each tile of a problem solved tile by tile, so that a
        tile does not settle it again on its part alone."""
        return {}

    def noise_level(self, x: torch.Tensor, p: dict) -> tuple[float, bool]:
        """``(sigma, estimated)``: the given measurement noise, or the one estimated in ``x``
        when :meth:`estimates`."""
        if self.estimates(p):
            return self.estimate(x, p), True
        return p.get("sigma") or 0.0, False

    def estimate(self, x: torch.Tensor, p: dict | None = None) -> float:
        """The measurement noise read in ``x`` (one image; [0, 1] units) when ``sigma`` is
        not given: white Gaussian noise's std (:func:`restore.noise.estimate_sigma`). ``p``:
        the task's parameters, for what :meth:`load` read of the file beside the pixels."""
        return estimate_sigma(x)

    def as_grey(self, p: dict) -> dict:
        """The parameters as given for an RGB image whose channels are equal, restored as the grey
        image it is (:func:`restore.api.run`): as they are by default (a JPEG's tables: its luma's)."""
        return p

    def with_alpha(self, alpha: np.ndarray | None, p: dict) -> tuple[dict, np.ndarray | None]:
        """The API's RGBA image: its parameters and the alpha channel to give back (``alpha``:
        the input's ``H x W`` alpha, None for an image without; :meth:`load` is the command
        line's counterpart). As given by default."""
        return p, alpha

    def under_alpha(self, x: torch.Tensor, alpha: np.ndarray | None, p: dict) -> tuple[torch.Tensor, dict]:
        """``(x, p)`` with the colour of ``x``'s fully transparent pixels (``alpha`` 0) taken
        from the nearest visible pixel, where the output is another size (super-resolution): the
        colour under them (black, as often) bled into the enlarged edges as a dark rim (a trial's
        sprite); ``p`` then gives a task that takes ``visible`` the pixels shown (what it reads
        of the image, sr's drawn check, counts those). Else, or with nothing transparent, as
        they are (a denoised or filled image's hidden colours are kept; inpainting's
        transparent pixels are its holes)."""
        if alpha is None or tuple(self.out_size(*x.shape[-2:], p)) == tuple(x.shape[-2:]):
            return x, p
        hidden = np.asarray(alpha) == 0
        if hidden.shape != tuple(x.shape[-2:]) or not hidden.any() or hidden.all():
            return x, p
        from scipy.ndimage import distance_transform_edt  # (scikit-image's own dependency)

        iy, ix = distance_transform_edt(hidden, return_distances=False, return_indices=True)
        x = x[..., torch.from_numpy(iy), torch.from_numpy(ix)]
        return x, ({**p, "visible": torch.from_numpy(~hidden)} if self.takes("visible") else p)

    def no_sampler(self, p: dict) -> str | None:
        """Why these parameters run no sampler whatever is named (said where samples or a
        sampler are asked for), else None."""
        return None

    def alpha_resize(self, p: dict) -> str:
        """How an alpha channel is resized to another output size: ``"cubic"``, or ``"nearest"``
        (super-resolution's pixel art, each pixel a block)."""
        return "cubic"

    # -- the command line ---------------------------------------------------------------
    def load(self, image, files: dict, p: dict, max_pixels: int | None) -> tuple[dict, np.ndarray | None]:
        """Turn the file inputs (paths by name, ``None`` when absent) and CLI options into
        run() keywords; also returns an alpha channel to write instead of the input's."""
        return p, None

    def cli_files(self, p: dict) -> int:
        """How many of the command line's last positional arguments are file inputs
        (the ones before them are the images)."""
        return len(self.files)

    def cli_check(self, files: dict, p: dict) -> None:
        """Usage errors of the command line's file inputs (:class:`UsageError`)."""
        missing = [f.upper() for f in self.files if files.get(f) is None]
        if missing:
            raise UsageError(f"missing {', '.join(missing)}")

    def api_warnings(self, x: torch.Tensor, p: dict) -> list[str]:
        """The warnings the Python API gives (``warnings.warn``, before the work): those of
        :meth:`warnings` that cost nothing to find and say a result is probably not what was
        meant, in the API's words (the command line prints :meth:`warnings` itself). ``p``:
        the parameters as given. Default: none."""
        return []

    def warnings(self, x: torch.Tensor, p: dict) -> list[str]:
        """Warnings about the parameters given for this input (shown before the work). ``p``:
        the parameters as given, with what :meth:`load` made of them over them (a mask file read
        and already inverted, where ``invert_mask`` asked for it, which it then drops)."""
        return []

    def shown(self, x: torch.Tensor, p: dict) -> torch.Tensor:
        """The input as drawn in a ``--compare`` panel."""
        return x

    # -- evaluation ---------------------------------------------------------------------
    def degrade(self, name: str, img: np.ndarray, index: int, **e: Any) -> Case:
        """The seeded degradation (``index``) of a clean uint8 image for ``restore eval``."""
        raise NotImplementedError

    def eval_unused(self, e: dict) -> list[str]:
        """The names of :attr:`eval_params` that the degradation ``e`` does not use (``restore
        eval`` refuses them given: they were ignored in silence). Default: none."""
        return []

    def view(self, a: torch.Tensor, b: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor, str]:
        """What is scored of output ``a`` and truth ``b`` and its label suffix (e.g. the Y
        channel for super-resolution: ``"-Y"``)."""
        return a, b, ""

    def score(self, case: Case, out: torch.Tensor) -> dict:
        """PSNR / SSIM with the task's convention."""
        a, b, _ = self.view(out.detach().float().cpu().clamp(0, 1), case.gt, case.params)
        return {"psnr": psnr(a, b), "ssim": ssim(a, b)}

    def describe(self, p: dict) -> str:
        """A few words on an evaluation's setting (report headers)."""
        return ", ".join(f"{k}={v}" for k, v in p.items() if v is not None)

    def published(self, p: dict, dataset: str | None = None) -> str:
        """Published figures for this evaluation setting on ``dataset`` (a folder; None: any),
        with their source ("" if none)."""
        return ""


def psnr_where(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor) -> float:
    """PSNR (dB, images in [0, 1]) over the pixels ``where`` (an ``(H, W)`` bool mask) only."""
    mse = float(((a - b) ** 2)[..., where].mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def np01(t: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` tensor -> ``H x W [x C]`` float array (for classical tools)."""
    a = t[0].detach().cpu().numpy().transpose(1, 2, 0)
    return a[:, :, 0] if a.shape[2] == 1 else a


def from_np(a: np.ndarray) -> torch.Tensor:
    """A classical tool's ``H x W [x C]`` array (uint8 or float in [0, 1]) -> tensor."""
    return to_tensor(np.asarray(a, dtype=np.float32) if a.dtype.kind == "f" else a)
