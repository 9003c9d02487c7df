"""Hybrids: blend models on a common per-user scale, and switch for cold users and items."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ValidationError

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models._blend import (
    UNITS,
    InstanceFlag,
    Normalisation,
    ShareProgress,
    check_same_training,
    normalise_scores,
    shift_scale,
)
from recsys_core.models._hybrid_config import (
    HybridConfig,
    SwitchingConfig,
    build_component,
)
from recsys_core.models._hybrid_reasons import (
    components_one,
    explain_components,
    hybrid_history_parts,
)
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import Explanation, PairParts
from recsys_core.progress import Progress, report

#: Saved component state lives on the hybrid as ``c<index>__<attribute>`` (see ``_mirror``).
_MIRRORED = re.compile(r"^c(\d+)__(.+_)$")


def _active(model: Hybrid) -> list[Recommender]:
    """Components that can decide a score: positive weight or named by switching."""
    comps = model.components_or_prototypes()
    keep = {i for i, c in enumerate(model.config.components) if c.weight > 0}
    sw = model.config.switching
    if sw is not None:
        keep |= {i for i in (sw.cold_user_model, sw.cold_items_from) if i is not None}
    return [comps[i] for i in sorted(keep)]


def _blended_cold_items(model: Hybrid) -> bool:
    sw = model.config.switching
    if sw is not None and sw.cold_items_from is not None:
        return True
    comps = model.components_or_prototypes()
    return any(c.supports_cold_items for c, w in zip(comps, model.weights(), strict=True) if w)


class Hybrid(Recommender):
    """A weighted blend of models, each normalised per user, with optional cold-start switches.

    ``score(u, i) = sum_c w_c * norm_c(u, i)`` with weights divided by their sum, where
    ``norm_c(u, .)`` is component c's scores for user u normalised over the whole catalogue
    (so models on different scales blend fairly and ``score(u, items)`` equals a column
    subset of ``score(u)``). A cold user (fewer than ``cold_user_threshold`` distinct
    training items) gets ``norm`` of the cold-user component alone; items without training
    interactions get ``norm`` of the ``cold_items_from`` component alone.

    Component state is mirrored on the hybrid as ``c<index>__<attribute>`` arrays, so the
    base class saves a hybrid in one ``.npz`` and loading rebuilds the components from it.
    """

    name: ClassVar[str] = "hybrid"
    config_class: ClassVar[type[RecommenderConfig]] = HybridConfig
    # Flags follow the components: a bool on the class, computed on an instance.
    supports_cold_items = InstanceFlag(False, _blended_cold_items)
    personalized = InstanceFlag(True, lambda m: any(c.personalized for c in _active(m)))
    explains = InstanceFlag(
        False, lambda m: m.config.normalisation != "rank" and all(c.explains for c in _active(m))
    )

    config: HybridConfig

    def __init__(self, config: RecommenderConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._components: list[Recommender] | None = None
        self._last_rows: tuple[int, list[Recommender], list[np.ndarray]] | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_fitted(
        cls,
        models: Sequence[Recommender],
        weights: Sequence[float],
        normalisation: Normalisation = "minmax",
        *,
        switching: SwitchingConfig | dict[str, Any] | None = None,
        random_state: int = 42,
    ) -> Hybrid:
        """A hybrid of models already fitted on the same training data (e.g. stored runs).

        Raises:
            InputError: no models, weights not matching them, an unfitted or unregistered
                model, models fitted on different id spaces (datasets or versions) or on
                different training interactions (splits), or an invalid blend.
        """
        if not models or len(models) != len(weights):
            raise InputError(
                f"Give one weight per model; got {len(models)} model(s), {len(weights)} weight(s)."
            )
        check_same_training(models)
        spec = {
            "random_state": random_state,
            "normalisation": normalisation,
            "switching": switching,
            "components": [
                {"model": m.name, "params": m.config.model_dump(mode="json"), "weight": w}
                for m, w in zip(models, weights, strict=True)
            ],
        }
        try:
            config = HybridConfig.model_validate(spec)
        except ValidationError as exc:
            raise InputError(f"Cannot blend these models: {exc}") from exc
        hybrid = cls(config)
        hybrid.train_ = models[0].train_
        hybrid._components = list(models)
        hybrid._learn_activity(hybrid.train_)
        hybrid._mirror()
        return hybrid

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        self._components = None
        n = len(self.config.components)
        comps = [build_component(self.config, i) for i in range(n)]
        for i, comp in enumerate(comps):
            share = None if progress is None else ShareProgress(progress, i, n, comp.name)
            comp.fit(train, progress=share)
        self._components = comps
        self._learn_activity(train)
        self._mirror()
        report(progress, n * UNITS, n * UNITS, "components fitted")

    def _learn_activity(self, train: Interactions) -> None:
        m = train.matrix
        self.user_counts_ = np.diff(m.indptr).astype(np.int64)
        self.cold_items_ = np.bincount(m.indices, minlength=train.n_items) == 0

    def _mirror(self) -> None:
        """Copy (by reference) every component's learned attributes onto the hybrid."""
        for key in [k for k in vars(self) if _MIRRORED.match(k)]:
            delattr(self, key)
        for index, comp in enumerate(self._components or ()):
            for key, value in vars(comp).items():
                if key.endswith("_") and not key.startswith("_") and key != "train_":
                    setattr(self, f"c{index}__{key}", value)

    def components(self) -> list[Recommender]:
        """The fitted components, rebuilt from the mirrored state after :meth:`load`."""
        if self._components is None:
            train = self._train()
            comps = [build_component(self.config, i) for i in range(len(self.config.components))]
            for key, value in vars(self).items():
                if match := _MIRRORED.match(key):
                    setattr(comps[int(match[1])], match[2], value)
            for comp in comps:
                comp.train_ = train
            self._components = comps
        return self._components

    def components_or_prototypes(self) -> list[Recommender]:
        """Fitted components when fitted, else unfitted ones (enough to read their flags)."""
        if self.fitted:
            return self.components()
        return [build_component(self.config, i) for i in range(len(self.config.components))]

    def weights(self) -> np.ndarray:
        """Component weights divided by their sum (float64)."""
        w = np.array([c.weight for c in self.config.components], dtype=np.float64)
        return w / w.sum()

    def save(self, path: Any) -> None:
        """As :meth:`Recommender.save`, after refreshing the mirrored component state."""
        self.components()
        self._mirror()
        super().save(path)

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        comps, weights, sw = self.components(), self.weights(), self.config.switching
        cold_user_model = None if sw is None else sw.cold_user_model
        cold_item_model = None if sw is None else sw.cold_items_from
        cold_users = np.zeros(len(users), dtype=bool)
        if sw is not None and cold_user_model is not None:
            cold_users = self.user_counts_[users] < sw.cold_user_threshold
        out = np.zeros((len(users), self.n_items), dtype=np.float32)
        overrides: dict[int, np.ndarray] = {}
        one_user = self._user_rows(int(users[0])) if len(users) == 1 else None
        for index, comp in enumerate(comps):  # a loop over a few components
            alone = index in (cold_user_model, cold_item_model)
            if weights[index] == 0 and not alone:
                continue
            raw = comp.score(users) if one_user is None else one_user[index][None, :]
            normed = normalise_scores(raw, self.config.normalisation)
            out += np.float32(weights[index]) * normed
            if alone:
                overrides[index] = normed
        if cold_user_model is not None and cold_users.any():
            out[cold_users] = overrides[cold_user_model][cold_users]
        if cold_item_model is not None and self.cold_items_.any():
            out[:, self.cold_items_] = overrides[cold_item_model][:, self.cold_items_]
        return out if items is None else out[:, items]

    def _effective_weights(self, user: int, item: int) -> np.ndarray:
        """Weight of each component in ``score(user, item)``, switching included."""
        sw = self.config.switching
        w = self.weights()
        if sw is None:
            return w
        if sw.cold_items_from is not None and self.cold_items_[item]:
            return np.eye(len(w))[sw.cold_items_from]
        if sw.cold_user_model is not None and self.user_counts_[user] < sw.cold_user_threshold:
            return np.eye(len(w))[sw.cold_user_model]
        return w

    # ------------------------------------------------------------------ explaining
    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items with their share of the score: the weighted, rescaled component parts.

        Minmax and zscore shift every score of a user by the same amount, which belongs to no
        history item: the parts add up to ``score(user, item) - score_offset(user, item)``,
        and they order a user's items exactly as the score does.

        Raises:
            InputError: when a component that shapes the score cannot explain, or for rank
                normalisation, which is not additive.
        """
        self._check_explains()
        hist, parts = [], []
        for comp, w, (_, scale) in self._explained_terms(user, item):
            h, p = comp.explain_parts(user, item)
            hist.append(h)
            parts.append(p * (w / scale))
        items = np.concatenate(hist)
        uniq, pos = np.unique(items, return_inverse=True)
        return order_contributions(uniq, np.bincount(pos, weights=np.concatenate(parts)))

    def _check_explains(self) -> None:
        if not self.explains:
            raise InputError(
                f"This hybrid cannot explain its recommendations: every component must explain "
                f"and normalisation must be minmax or zscore (it is "
                f"{self.config.normalisation!r})."
            )

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair: each component's parts, batched."""
        self._check_explains()
        return hybrid_history_parts(self, users, items)

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """History reasons when every component has them, else each component's share."""
        if self.explains:
            return super().explain_many(users, items, names, n)
        pairs = self._pairs(users, items)
        return explain_components(self, pairs, self.score_pairs(*pairs), names, n)

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        """The scalar reference: :meth:`component_parts` and the top component's own reason."""
        if self.explains:
            return super().explain_one(user, item, names, n)
        return components_one(self, user, item, names, n)

    def component_parts(self, user: int, item: int) -> list[tuple[str, Recommender, float]]:
        """Each component's share of ``score(user, item)``: weight times normalised score.

        Every normalisation (rank too) and every switching rule keeps the score a weighted
        sum of normalised component scores, so the shares add up to the score exactly; they
        explain any hybrid, including those whose components cannot explain by history.
        Components are labelled by model name, numbered when a name repeats.
        """
        comps, weights = self.components(), self._effective_weights(user, item)
        rows = self._user_rows(user)
        names = [c.name for c in comps]
        out = []
        for index, (comp, w) in enumerate(zip(comps, weights, strict=True)):
            if w <= 0:
                continue
            normed = normalise_scores(rows[index][None, :], self.config.normalisation)
            label = names[index] if names.count(names[index]) == 1 else f"{names[index]} #{index}"
            out.append((label, comp, float(w * normed[0, item])))
        return out

    def score_offset(self, user: int, item: int) -> float:
        """The part of ``score(user, item)`` no history item explains (the normalisation shift)."""
        terms = self._explained_terms(user, item)
        return float(-sum(w * shift / scale for _, w, (shift, scale) in terms))

    def _explained_terms(
        self, user: int, item: int
    ) -> list[tuple[Recommender, float, tuple[float, float]]]:
        weights = self._effective_weights(user, item)
        method: Literal["minmax", "zscore"] = (
            "zscore" if self.config.normalisation == "zscore" else "minmax"
        )
        rows, out = self._user_rows(user), []
        for index, (comp, w) in enumerate(zip(self.components(), weights, strict=True)):
            if w > 0:
                shift, scale = shift_scale(rows[index][None, :], method)
                out.append((comp, float(w), (float(shift[0, 0]), float(scale[0, 0]))))
        return out

    def _user_rows(self, user: int) -> list[np.ndarray]:
        """Each component's raw scores of ``user`` over the catalogue, the last user's kept.

        Explaining a list asks for one user's component scores once per listed item (for the
        score, the normalisation shift and each share), each a full-catalogue pass; keeping
        the last user's rows makes that one pass per component per user. The cache follows
        the component list, so a refit or a load never serves stale rows.
        """
        comps = self.components()
        cached = self._last_rows
        if cached is None or cached[0] != user or cached[1] is not comps:
            rows = [np.asarray(c.score(np.array([user]))[0]) for c in comps]
            self._last_rows = cached = (user, comps, rows)
        return cached[2]
