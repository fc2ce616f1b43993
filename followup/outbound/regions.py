"""Treated body regions: the names clinics write, the regions they mean, and which ones call
for the breathing question. Pure.

Clinics' systems write regions every which way ("Thoracic spine", "L upper traps",
"rhomboids", "T-spine"), and the breathing question of the 24 h check-in used to hang on an
exact match, so a spelling it did not know lost the question without a word. Here a name is
first normalised (case, spaces, hyphens and underscores), then looked up in :data:`TABLE` as
written, without a side (left, right, L, R, both, bilateral) and as a singular. A clinic
extends the table in its care plan (``[regions]``, see
:func:`followup.outbound.careplan.parse_plan`).

Fail safe (clinical.md section 3): a region nobody knows, or a session with no region at all,
gets the breathing question. Pneumothorax after needling is rare and known from the chest
wall, upper back, neck and shoulder (clinical.md section 1); asking once too often costs a
patient a few seconds, not asking when it mattered may cost much more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

#: every region of the table: (the region, whether the breathing question is asked after it,
#: the names that mean it, normalised). Breathing regions are those over or near the lung:
#: the chest wall, upper back, neck and shoulder girdle (clinical.md section 1).
_ENTRIES: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    # -- over or near the lung: the breathing question --------------------------------------
    ("neck", True, ("neck", "cervical", "cervical_spine", "c_spine", "suboccipital",
                    "scalene", "scalenus", "sternocleidomastoid", "scm", "splenius",
                    "splenius_capitis", "splenius_cervicis", "posterior_neck")),
    ("upper_back", True, ("upper_back", "thoracic", "thoracic_spine", "t_spine", "mid_back",
                          "middle_back", "midback", "paraspinal",
                          "thoracic_paraspinal", "erector_spinae", "multifidus",
                          "rhomboid", "rhomboid_major", "rhomboid_minor", "middle_trapezius",
                          "mid_trapezius", "mid_trap", "lower_trapezius", "lower_trap",
                          "scapula", "scapular", "interscapular", "serratus_posterior")),
    ("shoulder", True, ("shoulder", "trapezius", "trap", "upper_trapezius", "upper_trap",
                        "levator_scapulae", "levator_scapula", "levator", "infraspinatus",
                        "supraspinatus", "subscapularis", "teres", "teres_major",
                        "teres_minor", "rotator_cuff", "deltoid", "latissimus",
                        "latissimus_dorsi", "lat", "lat_dorsi", "axilla")),
    ("chest_wall", True, ("chest_wall", "chest", "thorax", "rib", "intercostal",
                          "pectoralis", "pectoralis_major", "pectoralis_minor", "pectoral",
                          "pec", "pec_major", "pec_minor", "serratus", "serratus_anterior",
                          "sternum", "sternal", "breast")),
    # the lowest ribs and the pleura behind them: asked, although it is below the upper back
    ("quadratus_lumborum", True, ("quadratus_lumborum", "ql")),
    # -- away from the lung -------------------------------------------------------------------
    ("lower_back", False, ("lower_back", "low_back", "lumbar", "lumbar_spine", "l_spine",
                           "lumbar_paraspinal", "lumbosacral", "sacrum", "sacral", "si_joint",
                           "sacroiliac")),
    ("hip", False, ("hip", "glute", "gluteal", "gluteus", "gluteus_maximus", "gluteus_medius",
                    "gluteus_minimus", "glute_max", "glute_med", "piriformis", "tfl",
                    "tensor_fasciae_latae", "hip_flexor", "iliopsoas", "psoas", "iliacus",
                    "buttock")),
    ("thigh", False, ("thigh", "hamstring", "biceps_femoris", "semitendinosus",
                      "semimembranosus", "quad", "quadricep", "quadriceps", "rectus_femoris",
                      "vastus_lateralis", "vastus_medialis", "adductor", "groin", "it_band",
                      "itb", "iliotibial_band")),
    ("knee", False, ("knee", "popliteus", "patellar")),
    ("lower_leg", False, ("lower_leg", "calf", "gastrocnemius", "gastroc", "soleus",
                          "shin", "tibialis", "tibialis_anterior", "tibialis_posterior",
                          "peroneal", "peroneus", "fibularis", "achilles")),
    ("foot", False, ("foot", "feet", "ankle", "plantar", "plantar_fascia", "heel", "toe")),
    ("arm", False, ("arm", "upper_arm", "bicep", "biceps", "tricep", "triceps", "brachialis",
                    "elbow")),
    ("forearm", False, ("forearm", "wrist_extensor", "wrist_flexor", "extensor", "flexor",
                        "brachioradialis", "pronator", "supinator", "wrist")),
    ("hand", False, ("hand", "thenar", "hypothenar", "finger", "thumb")),
    ("head", False, ("head", "face", "jaw", "tmj", "masseter", "temporalis", "pterygoid")),
)  # fmt: skip

#: region -> whether the breathing question follows it
BREATHING: Mapping[str, bool] = {region: asks for region, asks, _ in _ENTRIES}
#: every region after which the breathing question is asked
BREATHING_REGIONS = frozenset(region for region, asks in BREATHING.items() if asks)
#: normalised name -> region; the table documented in docs/usage.md
TABLE: Mapping[str, str] = {
    name: region for region, _, names in _ENTRIES for name in (region, *names)
}

_SEPARATORS = re.compile(r"[\W_]+")
#: a side written before or after the name ("left", "R", "bilateral") says nothing about risk
_SIDES = frozenset({"left", "right", "l", "r", "lt", "rt", "both", "bilateral", "bilat", "bil"})


def normalise(name: str) -> str:
    """``"L. Upper-Traps "`` -> ``"l_upper_traps"``: lower case, runs of anything but letters
    and digits as one ``_``. Sides and plurals are left to :meth:`RegionTable.region`."""
    return "_".join(w for w in _SEPARATORS.split(name.lower()) if w)


def _side_free(name: str) -> list[str]:
    """``"left_l_spine"`` -> ``["left_l_spine", "l_spine", "spine"]``: the name with ever more
    sides (left, right, L, R, both, bilateral) dropped from either end, fewest first, as long
    as a word is left ("l_spine" is the lumbar spine, "l_traps" the left trapezius)."""
    words = name.split("_")
    leads = 0
    while leads < len(words) - 1 and words[leads] in _SIDES:
        leads += 1
    trails = 0
    while trails < len(words) - 1 and words[len(words) - 1 - trails] in _SIDES:
        trails += 1
    found = [
        "_".join(words[lead : len(words) - trail])
        for total in range(leads + trails + 1)
        for lead in range(min(total, leads) + 1)
        if (trail := total - lead) <= trails and lead + trail < len(words)
    ]
    return list(dict.fromkeys(found))


def _singulars(name: str) -> Iterable[str]:
    """The singulars a plural ``name`` may have (``calves`` -> ``calf``, ``ribs`` -> ``rib``)."""
    if name.endswith("ves"):
        yield name[:-3] + "f"
    if name.endswith("es"):
        yield name[:-2]
    if name.endswith("s"):
        yield name[:-1]


class Treated(NamedTuple):
    """What a session's regions column says: the regions it names, and whether it names one
    the table does not know or none at all (the fail-safe cases)."""

    regions: frozenset[str]
    unknown: tuple[str, ...]
    empty: bool

    @property
    def fail_safe(self) -> bool:
        return self.empty or bool(self.unknown)


@dataclass(frozen=True)
class RegionTable:
    """The built-in :data:`TABLE` plus a clinic's own names (``extra``: name -> region)."""

    extra: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[frozenset[str], Treated] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def region(self, name: str) -> str | None:
        """The region ``name`` means, or None when neither table knows it."""
        key = normalise(name)
        if not key:
            return None
        # the name as written first ("l_spine" is the lumbar spine), then without its side
        for base in _side_free(key):
            for candidate in (base, *_singulars(base)):
                found = self.extra.get(candidate) or TABLE.get(candidate)
                if found:
                    return found
        return None

    def treated(self, names: Iterable[str]) -> Treated:
        """The regions of a session's names (cached: a clinic writes a handful of spellings)."""
        key = frozenset(names)
        found = self._cache.get(key)
        if found is None:
            regions: set[str] = set()
            unknown: list[str] = []
            for name in sorted(key):
                region = self.region(name)
                if region is None:
                    if normalise(name):
                        unknown.append(name)
                else:
                    regions.add(region)
            empty = not regions and not unknown
            found = self._cache[key] = Treated(frozenset(regions), tuple(unknown), empty)
        return found

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names neither table knows (what the CSV import warns about)."""
        return list(self.treated(names).unknown)


DEFAULT_TABLE = RegionTable()


def split_regions(text: str | None) -> frozenset[str]:
    """``"neck;upper_back"`` -> {"neck", "upper_back"}: the regions column as names."""
    return frozenset(r.strip().lower() for r in (text or "").split(";") if r.strip())
