"""The accelerator catalog: known models, their memory and relative training throughput.

Throughput factors are relative to an NVIDIA V100 (1.0) on mixed-precision training of common
vision and language models; they are planning figures, not benchmarks of any one workload.
One request can name alternatives ("A100-80G:8" or "Ascend910B:8"); the catalog turns the names
people write into one canonical model name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from suanli.domain.errors import InvalidSpec

CPU = "CPU"


@dataclass(frozen=True, slots=True)
class AcceleratorModel:
    name: str
    vendor: str
    memory_gb: float
    throughput: float
    aliases: tuple[str, ...] = ()
    visible_devices_env: str = "CUDA_VISIBLE_DEVICES"


BUILTIN_MODELS: tuple[AcceleratorModel, ...] = (
    AcceleratorModel("H100", "NVIDIA", 80, 3.2, ("H100-80G", "H100-SXM")),
    AcceleratorModel("H800", "NVIDIA", 80, 3.0, ("H800-80G",)),
    AcceleratorModel("A100-80G", "NVIDIA", 80, 2.2, ("A100", "A100-80GB", "A100-SXM4-80GB")),
    AcceleratorModel("A800", "NVIDIA", 80, 2.1, ("A800-80G",)),
    AcceleratorModel("V100", "NVIDIA", 32, 1.0, ("V100-32G", "V100-16G", "V100M32", "V100M16")),
    AcceleratorModel("L40S", "NVIDIA", 48, 1.6, ()),
    AcceleratorModel("T4", "NVIDIA", 16, 0.35, ()),
    AcceleratorModel("Ascend910B", "Huawei", 64, 2.0, ("910B", "Ascend-910B"), "ASCEND_RT_VISIBLE_DEVICES"),
    AcceleratorModel("Ascend310P", "Huawei", 24, 0.4, ("310P", "Ascend-310P"), "ASCEND_RT_VISIBLE_DEVICES"),
    AcceleratorModel("MLU370", "Cambricon", 48, 0.9, ("MLU370-X8",), "MLU_VISIBLE_DEVICES"),
    AcceleratorModel("DCU-Z100", "Hygon", 32, 0.8, ("Z100", "DCU"), "HIP_VISIBLE_DEVICES"),
    AcceleratorModel(CPU, "generic", 0, 0.05, ("cpu",), ""),
)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _loose(key: str, separator: str) -> str:
    """A regular expression for the names whose ``_key`` is ``key``: any case, one optional
    ``separator`` between characters (what people write: ``a100``, ``A100-80G``, ``910B``)."""
    chars = [f"[{c}{c.upper()}]" if c.isalpha() and c.upper() != c else re.escape(c) for c in key]
    return f"{separator}?".join(chars)


# A count of 1 to MAX_ACCELERATORS_PER_NODE (1024), leading zeros allowed, as int() reads it.
COUNT_PATTERN = "0*(?:[1-9][0-9]{0,2}|10[01][0-9]|102[0-4])"


class AcceleratorCatalog:
    """Resolves names to models. Built once from the built-ins plus any models added by config."""

    def __init__(self, models: Iterable[AcceleratorModel] = BUILTIN_MODELS) -> None:
        self._models: dict[str, AcceleratorModel] = {}
        self._by_key: dict[str, AcceleratorModel] = {}
        for model in models:
            self.add(model)

    def add(self, model: AcceleratorModel) -> None:
        self._models[model.name] = model
        for name in (model.name, *model.aliases):
            self._by_key[_key(name)] = model

    def resolve(self, name: str) -> AcceleratorModel:
        model = self._by_key.get(_key(name))
        if model is None:
            known = ", ".join(sorted(self._models))
            raise InvalidSpec(f"unknown accelerator model {name!r}; known models: {known}")
        return model

    def canonical(self, name: str) -> str:
        return self.resolve(name).name

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._by_key

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._models.values())

    def name_pattern(self) -> str:
        """JSON Schema ``pattern`` of the model names this catalog resolves (in the loose form
        it takes, one separator between characters)."""
        separator = r"[\s_\-]"
        keys = sorted(self._by_key, key=lambda k: (-len(k), k))
        models = "|".join(_loose(k, separator) for k in keys)
        return f"^{separator}?(?:{models}){separator}?$"

    def request_pattern(self) -> str:
        """JSON Schema ``pattern`` of a request written as text: ``MODEL`` or ``MODEL:COUNT``."""
        keys = sorted((k for k in self._by_key if k[:1].isalnum()), key=lambda k: (-len(k), k))
        models = "|".join(_loose(k, r"[_\-]") for k in keys)
        return rf"^\s*(?:{models})[_\-]?\s*(?::\s*{COUNT_PATTERN}\s*)?$"

    def throughput(self, name: str) -> float:
        model = self._models.get(name)
        return model.throughput if model else 1.0

    @classmethod
    def with_extra(cls, extra: Iterable[Mapping[str, object]]) -> AcceleratorCatalog:
        """The built-in catalog plus models from config, e.g. ``{"name": "X1", "memory_gb": 64}``."""
        catalog = cls()
        for i, item in enumerate(extra):
            try:
                model = ExtraAccelerator.model_validate(item)
            except ValidationError as error:
                raise InvalidSpec(f"accelerators[{i}] in the config: {error}", field=f"accelerators[{i}]") from None
            catalog.add(AcceleratorModel(**{**model.model_dump(), "aliases": tuple(model.aliases)}))
        return catalog


class ExtraAccelerator(BaseModel):
    """An accelerator model an operator adds in config."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    vendor: str = "unknown"
    memory_gb: float = Field(default=0, ge=0)
    throughput: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    aliases: list[str] = Field(default_factory=list)
    visible_devices_env: str = "CUDA_VISIBLE_DEVICES"
