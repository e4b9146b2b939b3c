"""What counts as evidence: the ML Test Score and the definition of done, as one table.

Each item lists the checks that back it automatically. Kinds of check:
``Test`` (passed in the last JUnit reports, ``reports/junit*.xml``, and a CI job runs pytest),
``CiJob`` (a CI job whose name or steps match a pattern), ``File`` (a file, or any file of a
glob, optionally holding a pattern), ``Registry`` (a fact on the champion model version or its
run), ``Document`` (a governance document with no placeholder left), ``SignOff`` (signed and
approved), ``Contract`` (a decision recorded before the first model: the declared quality
target, the protected-attribute answers), ``AnyOf`` (the best of several alternatives),
``Live`` (a figure only a live pilot has: the last `monitor` report, the champion's shadow
evidence; until it exists `ready` says so and leaves it out of the score, and a breached
figure fails the item).
An item scores 1 when all its checks hold, 0.5 when its manual test is documented in
``governance/manual-tests.md``, 0 otherwise. Keep this table in step with test names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PKG = __name__.split(".")[0]
SRC = f"src/{PKG}"


@dataclass(frozen=True)
class Test:
    id: str  # tests/<file>.py::<function> (every parametrised case must pass)


@dataclass(frozen=True)
class CiJob:
    pattern: str  # a regular expression matched against each job's name and definition


@dataclass(frozen=True)
class File:
    path: str  # may be a glob: ``deploy/**/*.yaml``
    pattern: str = ""  # a regular expression the file must contain


@dataclass(frozen=True)
class Registry:
    kind: Literal["param", "metric", "tag", "artifact"]
    key: str
    value: str = ""  # required value (tags); empty: present is enough


@dataclass(frozen=True)
class Document:
    path: str


@dataclass(frozen=True)
class SignOff:
    path: str


@dataclass(frozen=True)
class Contract:
    """A decision the owner records before the first model: the quality target
    (``gate.min_metric``) or the answers to adopt's protected-attribute question."""

    what: Literal["quality-target", "protected-review"]


@dataclass(frozen=True)
class Live:
    what: Literal["live-quality", "shadow"]


@dataclass(frozen=True)
class AnyOf:
    checks: tuple[Test | CiJob | File | Registry, ...]


Check = Test | CiJob | File | Registry | Document | SignOff | AnyOf | Live | Contract
Section = Literal["data", "model", "infrastructure", "monitoring"]
SECTIONS: tuple[Section, ...] = ("data", "model", "infrastructure", "monitoring")


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    checks: tuple[Check, ...]
    manual_why: str = ""  # why no automated check exists (the report shows it)


SCORE = "tests/test_ml_score.py::"
INGEST = "tests/test_ingest.py::"
SQL = "tests/test_source_sql.py::"
RAILS = "tests/test_rails.py::"
DRIFT = "tests/test_drift.py::"
OUTCOMES = "tests/test_outcomes.py::"
SHADOW = "tests/test_shadow.py::"
BATCH = "tests/test_batch.py::"

ML_TEST_SCORE: dict[Section, tuple[Item, ...]] = {
    "data": (
        Item(
            "data-1",
            "Feature expectations are captured in a schema",
            (
                Test("tests/test_schema.py::test_schema_rejects_bad_values"),
                Test(INGEST + "test_bad_rows_are_quarantined_with_reasons"),
                File(f"{SRC}/data/schema.py", r"class PilotSchema"),
            ),
        ),
        Item(
            "data-2",
            "Every feature earns its place",
            (Test(SCORE + "test_every_feature_earns_its_place"),),
        ),
        Item(
            "data-3",
            "No feature costs more than it brings",
            (),
            "latency, memory and upstream cost per feature are judged against its lift by a "
            "person; the figures come from the load test and the permutation importance",
        ),
        Item(
            "data-4",
            "Features obey meta-level rules (no PII, no protected attribute)",
            (Test("tests/test_schema.py::test_features_exclude_pii_and_protected_attributes"),),
        ),
        Item(
            "data-5",
            "The pipeline keeps its privacy controls",
            (
                Test(SCORE + "test_pii_never_reaches_the_model_or_the_window"),
                Test(INGEST + "test_pii_is_hashed_or_dropped_before_training_data"),
            ),
        ),
        Item(
            "data-6",
            "A new feature can be added quickly",
            (),
            "the time to add a feature is measured once by a person adding one end to end",
        ),
        Item(
            "data-7",
            "Feature code is tested for training and serving",
            (Test("tests/test_train.py::test_scorer_matches_pipeline"),),
        ),
    ),
    "model": (
        Item(
            "model-1",
            "The model specification is in the repository and tied to each version",
            (
                Test("tests/test_train.py::test_train_register_load_round_trip"),
                File(f"{SRC}/model/train.py", r"def build_pipeline"),
                Registry("param", "estimator"),
                Registry("param", "schema_version"),
            ),
        ),
        Item(
            "model-2",
            "Offline metrics track the online impact metric",
            (),
            "needs outcomes from real use (e.g. retention after contact), only known in the pilot",
        ),
        Item(
            "model-3",
            "Hyperparameters are tuned",
            (Test(SCORE + "test_hyperparameters_are_tuned"),),
        ),
        Item(
            "model-4",
            "The effect of model staleness is known",
            (Test(SCORE + "test_staleness_effect_is_measured"),),
        ),
        Item(
            "model-5",
            "A simpler model is not better",
            (Test(SCORE + "test_model_beats_a_simple_baseline"),),
        ),
        Item(
            "model-6",
            "Quality is good enough on every important slice",
            (Test(SCORE + "test_quality_on_every_slice"),),
        ),
        Item(
            "model-7",
            "The model is tested for fairness across protected groups",
            (Test(SCORE + "test_fairness_across_protected_groups"),),
        ),
    ),
    "infrastructure": (
        Item(
            "infrastructure-1",
            "Training is reproducible",
            (
                Test(SCORE + "test_training_is_reproducible"),
                Test(INGEST + "test_training_run_carries_the_lineage"),
                Registry("param", "seed"),
                Registry("tag", "data_hash"),
            ),
        ),
        Item(
            "infrastructure-2",
            "Model specification code is unit tested",
            (Test("tests/test_train.py::test_train_register_load_round_trip"),),
        ),
        Item(
            "infrastructure-3",
            "The whole pipeline is integration tested (data to served prediction)",
            (Test("tests/test_api.py::test_predict_one_row_and_a_batch"),),
        ),
        Item(
            "infrastructure-4",
            "Model quality is validated before it serves",
            (
                Test(RAILS + "test_a_degraded_challenger_is_refused_naming_the_failed_check"),
                Registry("tag", "gate.verdict", "passed"),
            ),
        ),
        Item(
            "infrastructure-5",
            "A single example can be followed through inference",
            (Test("tests/test_train.py::test_scorer_matches_pipeline"),),
        ),
        Item(
            "infrastructure-6",
            "A model is a challenger before it serves all traffic",
            (
                Test(RAILS + "test_production_takes_only_what_staging_validated"),
                Test(
                    SHADOW
                    + "test_the_shadow_scores_every_request_and_is_logged_beside_the_champion"
                ),
                Test(
                    SHADOW + "test_a_shadow_that_raises_or_hangs_never_touches_answers_or_latency"
                ),
                Test(RAILS + "test_production_requires_shadow_evidence_when_configured"),
                Live("shadow"),
            ),
        ),
        Item(
            "infrastructure-7",
            "A model can be rolled back quickly and safely",
            (Test(RAILS + "test_rollback_switches_the_live_server_while_it_serves"),),
        ),
    ),
    "monitoring": (
        Item(
            "monitoring-1",
            "Dependency changes raise a notification",
            (CiJob(r"uv lock --check"), CiJob(r"pip-audit|trivy|grype|osv-scanner")),
        ),
        Item(
            "monitoring-2",
            "Data invariants hold for training and serving inputs",
            (
                Test(INGEST + "test_bad_rows_are_quarantined_with_reasons"),
                Test("tests/test_api.py::test_bad_input_is_a_4xx_naming_the_field"),
                # batch decisions: the same contract and quarantine as online
                Test(BATCH + "test_every_row_is_scored_or_quarantined_and_pii_stays_out"),
            ),
        ),
        Item(
            "monitoring-3",
            "Training and serving compute the same values (no skew)",
            (Test(SCORE + "test_served_predictions_match_offline_scoring"),),
        ),
        Item(
            "monitoring-4",
            "Models are not too stale",
            (Test(DRIFT + "test_a_stale_champion_breaches_and_posts_to_the_webhook"),),
        ),
        Item(
            "monitoring-5",
            "The model is numerically stable",
            (Test(SCORE + "test_predictions_are_finite_at_the_schema_bounds"),),
        ),
        Item(
            "monitoring-6",
            "Computing performance has not regressed",
            (CiJob(r"\bloadtest\b|\blocust\b"),),
        ),
        Item(
            "monitoring-7",
            "Prediction quality has not regressed on served data",
            (
                Test(OUTCOMES + "test_served_then_outcome_round_trip_matches_the_metric_by_hand"),
                Test(OUTCOMES + "test_a_degraded_champion_breaches_and_posts_the_webhook"),
                Test(RAILS + "test_retrain_gates_a_fresh_challenger_into_staging_only"),
                Live("live-quality"),
            ),
        ),
    ),
}

DEFINITION_OF_DONE: tuple[Item, ...] = (
    Item(
        "dod-1",
        "Containerisation validated",
        (File("Dockerfile"), CiJob(r"docker build|build-push-action|podman build")),
    ),
    Item(
        "dod-2",
        "Data pipeline tested against production-equivalent sources",
        (
            Test(INGEST + "test_seed_then_ingest_every_source"),
            AnyOf(
                (
                    Test(SQL + "test_postgres_seed_ingest_and_lineage_without_password"),
                    CiJob(r"postgres"),
                )
            ),
        ),
    ),
    Item(
        "dod-3",
        "Model registry and drift monitoring in place in staging",
        (
            File("config/staging.toml", r"tracking_uri\s*=\s*\"https?://"),
            Test(DRIFT + "test_a_shifted_window_breaches_and_exports_figures"),
            AnyOf((CiJob(r"\bdrift\b"), File("deploy/**/*.y*ml", r"\bdrift\b"))),
        ),
    ),
    Item(
        "dod-4",
        "Governance checklist complete and signed off",
        (
            Document("governance/checklist.md"),
            Document("governance/model-card.md"),
            Document("governance/risk-assessment.md"),
            SignOff("governance/sign-off.md"),
            Contract("quality-target"),
            Contract("protected-review"),
        ),
    ),
)

# Extra checks a regulated domain adds to the definition of done (item dod-4).
DOMAIN_CHECKS: dict[str, tuple[Item, ...]] = {
    "finance": (
        Item(
            "finance-1",
            "Adverse-action reasons: every decision carries its top contributing features",
            (Test("tests/test_train.py::test_scorer_matches_pipeline"),),
        ),
        Item(
            "finance-2",
            "Model risk management (SR 11-7): validation, monitoring, documented limits",
            (
                Document("governance/risk-assessment.md"),
                Test(SCORE + "test_quality_on_every_slice"),
            ),
        ),
    ),
    "health": (
        Item(
            "health-1",
            "PHI minimum necessary: identifiers never reach the model or served data",
            (Test(SCORE + "test_pii_never_reaches_the_model_or_the_window"),),
        ),
        Item(
            "health-2",
            "HIPAA safeguards documented (access, audit, retention)",
            (Document("governance/risk-assessment.md"),),
        ),
    ),
    "hr": (
        Item(
            "hr-1",
            "Adverse impact: four-fifths rule across protected groups",
            (Test(SCORE + "test_fairness_across_protected_groups"),),
        ),
        Item(
            "hr-2",
            "EEOC / local law obligations documented (notice, human review)",
            (Document("governance/risk-assessment.md"),),
        ),
    ),
    "legal": (
        Item(
            "legal-1",
            "Privileged or confidential material never leaves the pipeline",
            (Test(SCORE + "test_pii_never_reaches_the_model_or_the_window"),),
        ),
        Item(
            "legal-2",
            "Privilege, confidentiality and human review documented",
            (Document("governance/risk-assessment.md"),),
        ),
    ),
}
