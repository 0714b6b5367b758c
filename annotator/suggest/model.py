"""The learned model of a project: hashed character n-grams of a paragraph's text plus its
signals (position, length, repetition, page structure) into a linear classifier over all the
project's labels. Pure: no database; training.py feeds it and stores what it returns.

numpy and scikit-learn are imported inside the functions: every `flask` command (and the
save path, which imports training.py) starts without them."""
from __future__ import annotations

import io
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MIN_LABELS = 20  # human-labeled paragraphs (with at least two labels) before a model is fitted
TEXT_FEATURES = 2 ** 18
SIGNAL_FEATURES = 2 ** 10
SIGNAL_WEIGHT = 0.5  # the signals' share beside the text's (both blocks are L2-normalised)
MAX_TEXT_CHARS = 2000  # a paragraph's n-grams come from its first characters only
TARGET_PRECISION = 0.95


@dataclass(frozen=True)
class Example:
    """A paragraph as the model sees it: its text and its signals, a mapping of name to a
    number (a count, a share, a flag) or a string (a category: "tag=li")."""

    text: str
    signals: Mapping[str, float | int | bool | str] = field(default_factory=dict)


def paragraph_signals(index: int, count: int, text: str, repeats: int = 1,
                      features: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The signals every paragraph has: where it is in its article, how long it is, how many
    of its site's articles repeat it; plus what the HTML parser saw (`features`, any keys:
    numbers, flags, strings and lists of strings)."""
    from_end = count - 1 - index
    signals: dict[str, Any] = {
        "position": index / max(count - 1, 1),
        "from_start": _bucket(index), "from_end": _bucket(from_end),
        "length": math.log1p(len(text)), "length_bucket": _bucket(len(text) // 10),
        "repeats": math.log1p(max(repeats - 1, 0)), "repeats_bucket": _bucket(repeats - 1),
        "ends_sentence": text.rstrip()[-1:] in ".!?。！？…」”\"')）",
    }
    for key, value in (features or {}).items():
        if isinstance(value, (list, tuple)):
            for item in value[:20]:
                signals[f"html.{key}={item}"] = 1
        elif value is not None:
            signals[f"html.{key}"] = value
    return signals


def _bucket(number: int) -> str:
    """A count as a category, so a linear model can treat 0, 1 and 2 apart: 0..4, 5+, 10+, 30+."""
    if number < 5:
        return str(max(number, 0))
    return "5+" if number < 10 else "10+" if number < 30 else "30+"


def _signal_row(signals: Mapping[str, Any]) -> dict[str, float]:
    """Numbers signed-log scaled, flags 0/1, strings one-hot ("name=value")."""
    row: dict[str, float] = {}
    for name, value in signals.items():
        if isinstance(value, bool):
            if value:
                row[name] = 1.0
        elif isinstance(value, (int, float)):
            if math.isfinite(value):
                row[name] = math.copysign(math.log1p(abs(value)), value)
        else:
            row[f"{name}={str(value)[:64]}"] = 1.0
    return row


def vectorize(examples: Sequence[Example]):
    """The sparse feature matrix of `examples` (stateless: hashed, so no fitting)."""
    if not examples:
        return stack([])
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.preprocessing import normalize

    text = HashingVectorizer(analyzer="char_wb", ngram_range=(1, 3), n_features=TEXT_FEATURES,
                             alternate_sign=False, norm="l2", dtype=np.float32)
    signals = FeatureHasher(n_features=SIGNAL_FEATURES, input_type="dict",
                            alternate_sign=False, dtype=np.float32)
    texts = text.transform(example.text[:MAX_TEXT_CHARS] for example in examples)
    rows = normalize(signals.transform(_signal_row(example.signals) for example in examples))
    return hstack([texts, rows * SIGNAL_WEIGHT], format="csr", dtype=np.float32)


def stack(matrices: list):
    """Vectorized batches as one matrix (no batch: no rows)."""
    from scipy.sparse import csr_matrix, vstack
    if not matrices:
        return csr_matrix((0, TEXT_FEATURES + SIGNAL_FEATURES), dtype="float32")
    return vstack(matrices, format="csr")


@dataclass
class ProjectModel:
    """A fitted linear model: one weight row per label (one row in all when there are two
    labels), as scikit-learn's SGDClassifier keeps them. Stored without pickle (`dumps`), so
    loading a model from the database never runs code."""

    labels: list[str]
    weights: Any  # scipy CSR, labels (or 1) x features
    intercepts: np.ndarray
    trained_on: int

    def probabilities(self, matrix) -> np.ndarray:
        """Each row's probability per label (rows sum to 1), one-vs-rest as SGD's."""
        import numpy as np
        scores = np.asarray((matrix @ self.weights.T).todense()) + self.intercepts
        odds = 1.0 / (1.0 + np.exp(-np.clip(scores, -30, 30)))
        if len(self.labels) == 2:
            return np.hstack([1 - odds, odds])
        total = odds.sum(axis=1, keepdims=True)
        return odds / np.where(total == 0, 1, total)

    def predict(self, examples: Sequence[Example]) -> list[tuple[str, float]]:
        """The best label of each example and its probability."""
        return self.predict_matrix(vectorize(examples)) if examples else []

    def predict_matrix(self, matrix) -> list[tuple[str, float]]:
        probabilities = self.probabilities(matrix)
        best = probabilities.argmax(axis=1)
        return [(self.labels[column], float(probabilities[row, column]))
                for row, column in enumerate(best)]

    def dumps(self) -> bytes:
        import numpy as np
        from scipy.sparse import csr_matrix
        weights = csr_matrix(self.weights)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, labels=np.array(self.labels, dtype=str),
                            data=weights.data.astype(np.float32), indices=weights.indices,
                            indptr=weights.indptr, shape=np.array(weights.shape),
                            intercepts=self.intercepts, trained_on=np.array(self.trained_on))
        return buffer.getvalue()

    @classmethod
    def loads(cls, blob: bytes) -> ProjectModel:
        import numpy as np
        from scipy.sparse import csr_matrix
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            weights = csr_matrix((saved["data"], saved["indices"], saved["indptr"]),
                                 shape=tuple(saved["shape"]))
            return cls([str(label) for label in saved["labels"]], weights,
                       saved["intercepts"], int(saved["trained_on"]))


class TooFewLabels(ValueError):
    """Not enough human labels (or only one label) to learn from."""


def check_trainable(labels: Sequence[str]) -> None:
    kinds = Counter(labels)
    if len(labels) < MIN_LABELS or len(kinds) < 2:
        raise TooFewLabels(
            f"{len(labels)} human-labeled paragraph(s) with {len(kinds)} different label(s): "
            f"the model needs at least {MIN_LABELS} with two labels or more")


def fit(examples: Sequence[Example], labels: Sequence[str], *, seed: int = 0) -> ProjectModel:
    """Fit the model on labeled examples (raises TooFewLabels)."""
    return fit_matrix(vectorize(examples), labels, seed=seed)


def fit_matrix(matrix, labels: Sequence[str], *, seed: int = 0) -> ProjectModel:
    """Fit the model on vectorized examples (raises TooFewLabels)."""
    check_trainable(labels)
    return _fit_matrix(matrix, labels, seed, len(labels))


def _fit_matrix(matrix, labels: Sequence[str], seed: int, trained_on: int) -> ProjectModel:
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    classifier = SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=1e-4,
                               random_state=seed)
    with warnings.catch_warnings():  # noisy labels stop at max_iter: expected, not news
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(matrix, np.asarray(labels))
    weights = csr_matrix(classifier.coef_.astype(np.float32))
    weights.eliminate_zeros()
    return ProjectModel([str(label) for label in classifier.classes_], weights,
                        classifier.intercept_.astype(np.float64), trained_on)


def cross_validate(matrix, labels: Sequence[str], groups: Sequence[Any],
                   *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Out-of-fold predictions (of vectorized examples) by group (article: a model never sees
    the article it is scored on), scored against `labels`: per label precision, recall, F1 and support, accuracy, the
    majority-label baseline, and the share of paragraphs a confidence threshold would
    pre-label at precision >= 0.95."""
    import numpy as np
    from sklearn.model_selection import GroupKFold
    check_trainable(labels)
    distinct = len(set(groups))
    if distinct < 2:
        raise TooFewLabels("cross-validation by article needs labels in two articles or more")
    truth = np.asarray(labels)
    predicted = np.empty(len(truth), dtype=object)
    confidence = np.zeros(len(truth))
    for train, test in GroupKFold(n_splits=min(folds, distinct)).split(matrix, truth, groups):
        if len(set(truth[train])) < 2:  # this fold's training part knows one label only
            predicted[test], confidence[test] = truth[train][0], 0.0
            continue
        model = _fit_matrix(matrix[train], truth[train], seed, len(train))
        chosen = model.predict_matrix(matrix[test])
        predicted[test] = [label for label, _ in chosen]
        confidence[test] = [probability for _, probability in chosen]
    return {"folds": min(folds, distinct), "articles": distinct,
            **score(truth, predicted, confidence)}


def score(truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float]
          ) -> dict[str, Any]:
    """Per label P/R/F1 of `predicted` against `truth`, and the pre-label threshold."""
    import numpy as np
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    per_label = {}
    for label in sorted(set(truth) | set(predicted)):
        hits = int(np.sum((predicted == label) & (truth == label)))
        said, real = int(np.sum(predicted == label)), int(np.sum(truth == label))
        precision, recall = hits / said if said else 0.0, hits / real if real else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4),
                            "f1": round(f1, 4), "support": real}
    majority_label, majority_count = Counter(truth.tolist()).most_common(1)[0]
    return {
        "paragraphs": len(truth),
        "accuracy": round(float(np.mean(predicted == truth)), 4),
        "macro_f1": round(float(np.mean([v["f1"] for v in per_label.values()])), 4),
        "majority_baseline": {"label": majority_label,
                              "accuracy": round(majority_count / len(truth), 4)},
        "labels": per_label,
        "prelabel": prelabel_threshold(truth == predicted, np.asarray(confidence, dtype=float)),
    }


def prelabel_threshold(correct: np.ndarray, confidence: np.ndarray,
                       target: float = TARGET_PRECISION) -> dict[str, Any]:
    """The lowest confidence threshold whose pre-labels (every paragraph at or above it) are
    right at least `target` of the time, and the share of paragraphs it pre-labels."""
    import numpy as np
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    best = {"target_precision": target, "threshold": None, "share": 0.0, "precision": None}
    for k in range(len(order) - 1, -1, -1):  # the largest set that reaches the target
        if k + 1 < len(order) and confidence[order[k + 1]] == confidence[order[k]]:
            continue  # a threshold takes all the ties at once
        if precision[k] >= target:
            best.update(threshold=round(float(confidence[order[k]]), 4),
                        share=round((k + 1) / len(order), 4),
                        precision=round(float(precision[k]), 4))
            break
    return best


def majority_label(labels: Iterable[str], gold: str | None = None) -> str:
    """The gold label when set, else the most frequent (ties: the first alphabetically)."""
    if gold is not None:
        return gold
    counts = Counter(labels)
    top = max(counts.values())
    return min(label for label, count in counts.items() if count == top)
