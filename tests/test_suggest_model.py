"""The per-project model: it learns from human labels only, `flask suggest` (with --evaluate
and --json), the training lease, retraining by itself while people save, and a label
propagated to the copies of its paragraph on the site's other pages."""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import (Annotation, BackgroundLease, Paragraph, Project, PropagationQueue,
                              Suggestion, SuggestionModel, utcnow)
from annotator.services.annotations import save_annotation, set_gold
from annotator.suggest import training
from annotator.suggest.model import Example, ProjectModel, fit, majority_label, prelabel_threshold

from helpers import article_pks, bearer, import_articles, make_user, paragraph_pks

# Learnable text: each label has its own phrasing, in English and in Chinese
PHRASES = {
    "claim": ["We argue that {x} must change now.", "The city should reform {x} at once.",
              "In my view, {x} deserves far more support.", "我们认为{x}必须立即改变。",
              "政府应当尽快改革{x}。", "显然{x}正在损害城市的发展。"],
    "evidence": ["According to a {n} survey, {m}% of residents reported problems with {x}.",
                 "Data from {n} shows {m} cases involving {x} last year.",
                 "根据{n}年的调查，{m}%的居民表示{x}有问题。", "{n}年的数据显示，去年共有{m}起{x}事件。"],
    "other": ["The meeting took place on a rainy afternoon near the {x} office.",
              "She walked home slowly, thinking about {x}.",
              "会议在一个下雨的下午举行，地点靠近{x}办公室。", "她慢慢走回家，一路想着{x}。"],
    "boilerplate": ["Share this article", "Related articles", "Subscribe to our newsletter",
                    "Copyright {n} {site}. All rights reserved.", "上一篇：{x}", "相关文章",
                    "分享到微信", "版权所有 © {n} {site}"],
}
TOPICS = ["public transport", "housing policy", "air quality", "公共交通", "住房政策", "空气质量"]


def generated(count: int, seed: int = 0) -> tuple[list[dict], list[list[str]]]:
    """`count` articles over three sites (jsonl records) and the answer key of each."""
    rng = random.Random(seed)
    records, keys = [], []
    for number in range(count):
        site = f"site{number % 3}.example.com"
        labels = (["boilerplate"] * rng.randint(1, 2)
                  + rng.choices(["claim", "evidence", "other"], k=rng.randint(4, 7))
                  + ["boilerplate"] * rng.randint(2, 3))
        texts = [rng.choice(PHRASES[label]).format(
            x=rng.choice(TOPICS), n=rng.randint(2000, 2025), m=rng.randint(2, 95), site=site)
            for label in labels]
        records.append({"id": f"a{number}", "title": f"Article {number}", "url":
                        f"https://{site}/{number}", "paragraphs": texts})
        keys.append(labels)
    return records, keys


def labeled_project(app, articles: int, labeled: int, name: str = "p"):
    """A project of generated articles, the first `labeled` labeled by hand by "ann";
    returns (article ids, answer keys, the annotator's id)."""
    records, keys = generated(articles)
    import_articles(app, name, records)
    annotator = make_user(app, "ann")
    pks = article_pks(app, name)
    with app.app_context():
        for pk, labels in zip(pks[:labeled], keys):
            for paragraph, label in zip(paragraph_pks(app, pk), labels):
                save_annotation(db.session, paragraph, annotator, label)
    return pks, keys, annotator


def suggest(runner, *args: str):
    return runner.invoke(args=["suggest", "--project", "p", *args])


def test_model_round_trip_predicts_the_same():
    records, keys = generated(12)
    examples = [Example(text) for record in records for text in record["paragraphs"]]
    labels = [label for key in keys for label in key]
    model = fit(examples, labels)
    again = ProjectModel.loads(model.dumps())
    assert again.labels == sorted(set(labels))
    before, after = model.predict(examples), again.predict(examples)
    assert [label for label, _ in after] == [label for label, _ in before]
    assert [p for _, p in after] == pytest.approx([p for _, p in before], abs=1e-5)


def test_majority_label_and_gold():
    assert majority_label(["claim", "other", "claim"]) == "claim"
    assert majority_label(["other", "claim"]) == "claim"  # a tie: the first alphabetically
    assert majority_label(["claim", "claim"], gold="evidence") == "evidence"


def test_prelabel_threshold_takes_ties_together():
    import numpy as np
    correct = np.array([True] * 10 + [True, False])  # at 0.5: right once, wrong once
    confidence = np.array([0.99] * 10 + [0.5, 0.5])
    found = prelabel_threshold(correct, confidence)
    assert found["threshold"] == 0.99 and found["share"] == pytest.approx(10 / 12, abs=1e-4)


def test_the_model_learns_and_beats_the_majority_baseline(app, runner):
    pks, keys, _ = labeled_project(app, articles=40, labeled=30)
    result = suggest(runner, "--evaluate", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["trained"] and summary["trained_on"] == sum(map(len, keys[:30]))

    # cross-validation by article, against a majority-label baseline computed here
    train_labels = [label for key in keys[:30] for label in key]
    majority, count = Counter(train_labels).most_common(1)[0]
    evaluation = summary["evaluation"]
    assert evaluation["articles"] == 30 and evaluation["paragraphs"] == len(train_labels)
    assert evaluation["accuracy"] > count / len(train_labels) + 0.3
    assert set(evaluation["labels"]) == {"claim", "evidence", "other", "boilerplate"}
    assert all(row["f1"] > 0.7 for row in evaluation["labels"].values()), evaluation
    assert evaluation["prelabel"]["share"] > 0.5

    # the suggestions written for the 10 articles nobody labeled (never seen in training)
    held_out = [label for key in keys[30:] for label in key]
    with app.app_context():
        suggested = []
        for pk in pks[30:]:
            for paragraph in paragraph_pks(app, pk):
                row = db.session.get(Suggestion, paragraph)
                assert row is not None and row.model == "model"
                assert row.reason.startswith(f"model trained on {summary['trained_on']} labels: ")
                suggested.append(row.label)
    accuracy = sum(a == b for a, b in zip(suggested, held_out)) / len(held_out)
    baseline = sum(label == majority for label in held_out) / len(held_out)
    assert accuracy > baseline + 0.3, (accuracy, baseline)

    text = suggest(runner, "--evaluate")
    assert text.exit_code == 0, text.output
    assert "model trained on" in text.output and "pre-labeled at precision >= 0.95" in text.output


def test_too_few_labels_is_a_clear_message(app, runner):
    labeled_project(app, articles=3, labeled=1)
    result = suggest(runner)
    assert result.exit_code == 0, result.output
    assert "the model needs at least 20" in result.output and "cold signals only" in result.output
    evaluated = suggest(runner, "--evaluate")
    assert evaluated.exit_code == 1
    assert "cannot evaluate 'p'" in evaluated.output and "Traceback" not in evaluated.output
    assert suggest(runner, "--project", "nope").exit_code != 0


def test_accepted_suggestions_do_not_train_the_model(app, runner):
    pks, keys, annotator = labeled_project(app, articles=6, labeled=4)
    with app.app_context():
        for paragraph, label in zip(paragraph_pks(app, pks[4]), keys[4]):
            save_annotation(db.session, paragraph, annotator, label, source="suggestion")
    summary = json.loads(suggest(runner, "--json").output)
    assert summary["trained_on"] == sum(map(len, keys[:4]))


def test_suggestions_off_trains_nothing(app, runner):
    labeled_project(app, articles=6, labeled=4)
    with app.app_context():
        db.session.scalar(select(Project)).suggestions_enabled = False
        db.session.commit()
    result = suggest(runner)
    assert result.exit_code == 0 and "suggestions are off" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suggestion).where(
            Suggestion.model == "model")) == 0


def test_the_lease_lets_one_trainer_train(app):
    labeled_project(app, articles=8, labeled=6)
    with app.app_context():
        project_id = db.session.scalar(select(Project.id))
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def trainer():
        with app.app_context():
            project = db.session.get(Project, project_id)
            start.wait()
            try:
                training.train_project(db.session, project)
                outcomes.append("trained")
            except training.LeaseHeld:
                outcomes.append("held")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=trainer) for _ in range(2)]
    with app.app_context():  # hold the lease while both start: neither may train
        assert training.take_lease(db.session, project_id)
        assert not training.take_lease(db.session, project_id)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == ["held", "held"]
        training.release_lease(db.session, project_id)

    outcomes.clear()
    start.reset()
    threads = [threading.Thread(target=trainer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held", "trained"]
    with app.app_context():  # the lease is free again, and one model is stored
        assert db.session.get(SuggestionModel, project_id).lease_until is None
        assert training.take_lease(db.session, project_id)


def test_retraining_while_eight_clients_save_loses_and_blocks_none(app):
    pks, keys, _ = labeled_project(app, articles=60, labeled=40)
    with app.app_context():
        project = db.session.scalar(select(Project))
        project.overlap = 9
        db.session.commit()
        project_id = project.id
    users = [f"saver{number}" for number in range(8)]
    headers = {}
    for name in users:
        make_user(app, name)
        headers[name] = bearer(app, name)
    targets = [paragraph for pk in pks[40:] for paragraph in paragraph_pks(app, pk)]
    statuses, latencies = [], []
    trained: list[dict] = []

    def trainer():
        with app.app_context():
            try:
                trained.append(training.train_project(db.session, db.session.get(
                    Project, project_id)))
            finally:
                db.session.remove()

    def saver(name):
        client = app.test_client()
        for paragraph in targets:
            began = time.monotonic()
            response = client.put(f"/api/paragraphs/{paragraph}/annotation",
                                  json={"label": "other"}, headers=headers[name])
            latencies.append(time.monotonic() - began)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=trainer)] + [
        threading.Thread(target=saver, args=(name,)) for name in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert trained and trained[0]["suggestions"] > 0
    assert statuses == [200] * (8 * len(targets))
    assert max(latencies) < 4.0, max(latencies)  # nobody waited near the 5 s write wait
    with app.app_context():
        saved = db.session.scalar(select(func.count(Annotation.id)).where(
            Annotation.paragraph_id.in_(targets)))
    assert saved == 8 * len(targets)


def test_saves_retrain_and_propagate_in_the_background(app):
    app.config["SUGGEST_IN_BACKGROUND"] = True
    records, keys = generated(9)
    for record in records[3:]:  # the same footer on every page of site0..2
        record["paragraphs"].append("Follow <b>us</b> on the site's own app")
    import_articles(app, "p", records)
    make_user(app, "ann")
    headers = bearer(app, "ann")
    client = app.test_client()
    pks = article_pks(app, "p")
    footer = paragraph_pks(app, pks[3])[-1]
    response = client.put(f"/api/paragraphs/{footer}/annotation", json={"label": "boilerplate"},
                          headers=headers)
    assert response.status_code == 200
    assert training.background(app).wait_idle()
    with app.app_context():
        site = f"site{3 % 3}.example.com"
        copy = paragraph_pks(app, pks[6])[-1]  # article 6 is on the same site as article 3
        other_site = paragraph_pks(app, pks[4])[-1]
        suggestion = db.session.get(Suggestion, copy)
        assert suggestion.label == "boilerplate" and suggestion.confidence >= 0.95
        assert suggestion.reason == f"labeled boilerplate on another page of {site}"
        assert (db.session.get(Suggestion, other_site) is None
                or "another page" not in db.session.get(Suggestion, other_site).reason)
    # a change of mind replaces the propagated suggestion (and any cold one)
    assert client.put(f"/api/paragraphs/{footer}/annotation", json={"label": "other"},
                      headers=headers).status_code == 200
    assert training.background(app).wait_idle()
    with app.app_context():
        assert db.session.get(Suggestion, copy).reason == f"labeled other on another page of {site}"

    for pk, labels in zip(pks[:5], keys[:5]):  # 40+ saves, 20+ labels: retrained by itself
        for paragraph, label in zip(paragraph_pks(app, pk), labels):
            assert client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": label},
                              headers=headers).status_code == 200
    assert training.background(app).wait_idle()
    with app.app_context():
        stored = db.session.get(SuggestionModel, db.session.scalar(select(Project.id)))
        assert stored is not None and stored.trained_on >= 20 and stored.blob
        assert stored.lease_until is None
        assert db.session.scalar(select(func.count()).select_from(Suggestion).where(
            Suggestion.model == "model")) > 0


def test_the_background_paces_its_retraining(app):
    """Labels that keep coming retrain a project at most once a minute (MIN_RETRAIN_SECONDS)
    and no sooner than RETRAIN_PACE times the last training's CPU: a busy team server does
    not spend its cores retraining after every 20 labels."""
    app.config["SUGGEST_IN_BACKGROUND"] = True
    records, keys = generated(12)
    import_articles(app, "p", records)
    make_user(app, "ann")
    headers = bearer(app, "ann")
    client = app.test_client()
    pks = article_pks(app, "p")

    def label(articles):
        for pk, labels in articles:
            for paragraph, key in zip(paragraph_pks(app, pk), labels):
                assert client.put(f"/api/paragraphs/{paragraph}/annotation",
                                  json={"label": key}, headers=headers).status_code == 200
        assert training.background(app).wait_idle(60)  # the saves' burst holds it seconds
        with app.app_context():
            return db.session.scalar(select(SuggestionModel.trained_on))

    first = label(zip(pks[:4], keys[:4]))
    assert first >= training.RETRAIN_AFTER  # the first model comes as soon as labels allow
    assert label(zip(pks[4:10], keys[4:10])) == first  # many more labels, within the minute
    with app.app_context():  # as if the last training were older than the pace's wait
        model = db.session.scalar(select(SuggestionModel))
        model.trained_at -= timedelta(seconds=training.MIN_RETRAIN_SECONDS + 1)
        db.session.commit()
    assert label(zip(pks[10:], keys[10:])) > first


def test_too_soon_follows_the_last_trainings_cpu():
    now = utcnow()
    assert not training.too_soon(None, None)
    assert training.too_soon(now - timedelta(seconds=30), {"cpu_seconds": 1.0})
    assert not training.too_soon(now - timedelta(seconds=61), {"cpu_seconds": 1.0})
    assert training.too_soon(now - timedelta(seconds=61), {"cpu_seconds": 20.0})  # 200 s
    assert not training.too_soon(now - timedelta(seconds=201), {"cpu_seconds": 20.0})


def test_training_data_takes_the_majority_human_label_and_gold_wins(app):
    import_articles(app, "p", generated(1)[0])
    users = [make_user(app, name) for name in ("x", "y", "z")]
    first, second, third = paragraph_pks(app, article_pks(app, "p")[0])[:3]
    with app.app_context():
        for user, label in zip(users, ("claim", "claim", "other")):
            save_annotation(db.session, first, user, label)
        for user, label in zip(users, ("claim", "other", "other")):
            save_annotation(db.session, second, user, label)
        save_annotation(db.session, third, users[0], "claim", source="suggestion")
        set_gold(db.session, db.session.get(Paragraph, second), "evidence", users[0])
        project_id = db.session.scalar(select(Project.id))
        _, labels, groups, _ = training.training_data(db.session, project_id)
    assert labels == ["claim", "evidence"]  # the accepted suggestion is not a human label
    assert len(set(groups)) == 1


def test_the_model_sees_the_cold_scorers_verdict_as_a_signal():
    """What carries over to a site nobody labeled: the cold shape scorer's log-odds, positive
    for a footer's link list, negative for the article's running text."""
    from types import SimpleNamespace

    footer = {"path": "footer>ul>li", "in": ["footer"], "words": ["footer", "links"],
              "link": 1.0, "extracted": 0}
    body = {"path": "article>p", "in": ["article"], "words": ["article", "content"],
            "link": 0.0, "extracted": 1.0}
    first = ("The council said on Tuesday that the new plan would cut travel times across "
             "the city by a fifth, while critics argued the budget was far too small.")
    second = ("Critics argued that the budget was far too small for what the plan promised, "
              "and asked the council to publish its figures before the vote next month.")
    texts = [(first, body), (second, body), ("Contact us", footer)]
    rows = [SimpleNamespace(id=index, article_id=1, index=index, text=text, text_key=str(index),
                            features=features, annotation_count=0, paragraph_count=len(texts),
                            site="example.com")
            for index, (text, features) in enumerate(texts)]
    examples = training._examples(rows, {})
    assert examples[2].signals["cold"] > 2  # p > 0.88
    assert examples[0].signals["cold"] < 0 and examples[1].signals["cold"] < 0


def test_the_background_thread_stops_with_its_app(app):
    """A torn-down app leaves no thread polling its database (on a shared PostgreSQL test
    database an orphan thread's queries deadlocked the next test's schema reset)."""
    app.config["SUGGEST_IN_BACKGROUND"] = True
    worker = training.background(app)
    assert worker.thread.is_alive() and worker.wait_idle()
    training.stop_background(app)
    assert not worker.thread.is_alive()
    assert "suggest_background" not in app.extensions


def _footer_project(app, name: str, records: list[dict]) -> list[int]:
    """Import the records as project `name`; the footer paragraph of each article, in order."""
    import_articles(app, name, records)
    return [paragraph_pks(app, pk)[-1] for pk in article_pks(app, name)]


def _suggested(app, paragraph_ids: list[int]) -> list[tuple[str | None, str | None]]:
    with app.app_context():
        found = {row.paragraph_id: (row.label, row.reason) for row in db.session.execute(
            select(Suggestion.paragraph_id, Suggestion.label, Suggestion.reason)
            .where(Suggestion.paragraph_id.in_(paragraph_ids)))}
    return [found.get(pk, (None, None)) for pk in paragraph_ids]


def test_a_burst_of_saves_propagates_as_the_saves_one_by_one_would(app):
    """Saves on copies of one text, propagated together, leave every copy the suggestion the
    saves propagated one by one leave it, in one write per text and label: the last save's
    label, and in that save's article the last label saved in another. Propagating a label
    the copies already have rewrites nothing."""
    records, _ = generated(30)
    for record in records[3:]:  # site0's footer on articles 3, 6, ..., 27 (nine copies)
        record["paragraphs"].append("Follow <b>us</b> on the site's own app")
    one_by_one = _footer_project(app, "p", records)
    together = _footer_project(app, "q", records)
    site0 = range(3, 30, 3)
    rng = random.Random(3)
    burst = [(rng.choice(site0), rng.choice(["boilerplate", "other", "claim"]))
             for _ in range(12)] + [(3, "other"), (6, "claim"), (3, "boilerplate")]
    with app.app_context():
        written = sum(training.propagate(db.session, [(one_by_one[article], label)])
                      for article, label in burst)
        assert written > 9 * 2  # one by one rewrote the copies again and again
        assert training.propagate(db.session, [(together[article], label)
                                               for article, label in burst]) == 9
    assert _suggested(app, together) == _suggested(app, one_by_one)
    assert _suggested(app, [together[6]])[0][0] == "boilerplate"
    assert _suggested(app, [together[3]])[0][0] == "claim"  # its own article: the one before
    with app.app_context():
        before = db.session.get(Suggestion, together[6]).updated_at
        assert training.propagate(db.session, [(together[3], "boilerplate")]) == 0
        assert db.session.get(Suggestion, together[6]).updated_at == before
        assert training.propagate(db.session, [(together[3], "other")]) == 8  # a change is
    assert _suggested(app, [together[6]])[0][0] == "other"  # written to every other copy


def _propagated(app, paragraph_ids: list[int]) -> set[str]:
    return {label for label, _ in _suggested(app, paragraph_ids)}


def test_one_thread_of_all_the_server_processes_propagates_every_processs_saves(app,
                                                                               monkeypatch):
    """Two server processes' background threads (two apps on one database, each with its
    own): each queues its own saves, the one holding the propagation lease propagates them
    all, within seconds; 8 clients saving through both lose and block none; a stopped holder
    gives the lease up and the other takes it."""
    app.config["SUGGEST_IN_BACKGROUND"] = True
    monkeypatch.setattr(training, "RETRAIN_AFTER", 10**6)  # no model's suggestion in the way
    other = create_app({"TESTING": True, "SECRET_KEY": "test", "SUGGEST_IN_BACKGROUND": True,
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    records, _ = generated(24)
    for record in records:  # a footer of its own on each of the three sites, 8 copies each
        record["paragraphs"].append(f"Follow {record['url'].split('/')[2]} on its own app")
    footers = _footer_project(app, "p", records)
    make_user(app, "ann")
    headers = bearer(app, "ann")
    first, second = training.background(app), training.background(other)
    try:
        began = time.monotonic()  # a save in each process: whichever queues first leads
        assert app.test_client().put(f"/api/paragraphs/{footers[0]}/annotation",
                                     json={"label": "boilerplate"}, headers=headers).status_code == 200
        assert other.test_client().put(f"/api/paragraphs/{footers[1]}/annotation",
                                       json={"label": "other"}, headers=headers).status_code == 200
        assert first.wait_idle() and second.wait_idle()
        assert time.monotonic() - began < 5  # "at once": seconds, not minutes
        assert first.leading != second.leading  # one leader (which one is a race)
        (leader, leader_app), (follower, follower_app) = sorted(
            [(first, app), (second, other)], key=lambda pair: not pair[0].leading)
        with app.app_context():
            assert db.session.get(BackgroundLease, "propagation").holder == leader.holder
        assert _suggested(app, footers[3::3]) == [
            ("boilerplate", "labeled boilerplate on another page of site0.example.com")] * 7
        assert _suggested(app, footers[4::3]) == [
            ("other", "labeled other on another page of site1.example.com")] * 7

        users = [f"saver{number}" for number in range(8)]
        for name in users:
            make_user(app, name)
        tokens = {name: bearer(app, name) for name in users}
        wanted = {0: "claim", 1: "boilerplate", 2: "evidence"}  # each site's footer label
        body = [pk for article in article_pks(app, "p")[12:] for pk in
                paragraph_pks(app, article)[:-1]]
        statuses: list[int] = []

        def saver(number: int) -> None:
            client = (app if number % 2 else other).test_client()
            for index, paragraph in enumerate(body[number::8]):
                statuses.append(client.put(f"/api/paragraphs/{paragraph}/annotation",
                                           json={"label": "other"},
                                           headers=tokens[users[number]]).status_code)
                footer = footers[(index + number) % 12]  # the first 12 articles' footers
                statuses.append(client.put(
                    f"/api/paragraphs/{footer}/annotation",
                    json={"label": wanted[((index + number) % 12) % 3]},
                    headers=tokens[users[number]]).status_code)

        threads = [threading.Thread(target=saver, args=(number,)) for number in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * len(statuses) and len(statuses) > 2 * len(body) - 16
        assert first.wait_idle() and second.wait_idle()
        with app.app_context():
            assert db.session.scalar(select(func.count(Annotation.id)).where(
                Annotation.paragraph_id.in_(body))) == len(body)
            assert db.session.scalar(select(func.count(PropagationQueue.id))) == 0
        for site, label in wanted.items():  # the copies nobody labeled, on articles 12..23
            assert _propagated(app, footers[12 + site::3]) == {label}

        training.stop_background(leader_app)  # the holder stops: the other process takes over
        with app.app_context():
            assert db.session.get(BackgroundLease, "propagation").until is None
        assert follower_app.test_client().put(
            f"/api/paragraphs/{footers[12]}/annotation", json={"label": "other"},
            headers=headers).status_code == 200
        assert follower.wait_idle() and follower.leading
        assert _propagated(app, footers[15::3]) == {"other"}
    finally:
        training.stop_background(other)
        with other.app_context():
            db.engine.dispose()


def test_only_saves_of_repeated_texts_are_queued_for_propagation(app):
    """A text found once has no copies: its save is not queued (nothing to propagate to)."""
    records, _ = generated(6)
    for record, word in zip(records, ["one", "two", "three", "four", "five", "six"]):
        record["paragraphs"].append("Follow us on the site's own app")  # on every page
        record["paragraphs"].append(f"A sentence found on page {word} alone.")
    import_articles(app, "p", records)
    first = paragraph_pks(app, article_pks(app, "p")[0])
    footer, alone = first[-2], first[-1]
    with app.app_context():
        assert training.queue_and_lead(db.session, [(alone, "other"), (footer, "other"),
                                                    (footer, "boilerplate")], "me")
        queued = db.session.execute(select(PropagationQueue.paragraph_id,
                                           PropagationQueue.label)).all()
    assert [tuple(row) for row in queued] == [(footer, "boilerplate")]


def test_many_saves_hold_propagation_and_retraining_back(app, monkeypatch):
    """While a process notes MANY_SAVES a second or more, its saves are gathered for
    PROPAGATE_BUSY instead of PROPAGATE_GATHER and a due retraining waits for them to slow
    down, RETRAIN_HOLD at most; a save now and then does neither."""
    app.config["SUGGEST_IN_BACKGROUND"] = True
    import_articles(app, "p", generated(3)[0])
    with app.app_context():
        project_id = db.session.scalar(select(Project.id))
    trained: list[float] = []
    monkeypatch.setattr(training, "train_project",
                        lambda *_: trained.append(time.monotonic()) or {})
    monkeypatch.setattr(training, "RETRAIN_HOLD", 1.0)
    worker = training.background(app)
    worker.note(0, "other", False)  # not a human save: nothing to propagate
    assert not worker.many_saves() and worker._gather() == training.PROPAGATE_GATHER
    began = time.monotonic()
    worker._train(project_id)  # a save now and then: trained after one look
    assert trained and trained[-1] - began < 1.5

    stop = threading.Event()

    def saves() -> None:
        while not stop.is_set():
            worker.note(0, "other", False)
            time.sleep(0.02)

    saver = threading.Thread(target=saves)
    saver.start()
    try:
        time.sleep(0.5)
        assert worker.many_saves() and worker._gather() == training.PROPAGATE_BUSY
        began = time.monotonic()
        worker._train(project_id)  # held while the saves keep coming, RETRAIN_HOLD at most
        assert 0.9 <= trained[-1] - began < 2.5
    finally:
        stop.set()
        saver.join()
    monkeypatch.setattr(training, "RETRAIN_HOLD", 30.0)
    began = time.monotonic()
    worker._train(project_id)  # the saves stopped: trained once they slowed down
    assert 1.0 <= trained[-1] - began < 10.0 and not worker.many_saves()

    # saves in another process: none here, the project's labels growing
    make_user(app, "ann")
    headers = bearer(app, "ann")
    other = create_app({"TESTING": True, "SECRET_KEY": "test",
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    paragraphs = [pk for article in article_pks(app, "p") for pk in paragraph_pks(app, article)]

    def elsewhere() -> None:
        client = other.test_client()
        for paragraph in paragraphs:
            if stop.is_set():
                break
            client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "other"},
                       headers=headers)
            time.sleep(0.05)

    stop.clear()
    saver = threading.Thread(target=elsewhere)
    saver.start()
    try:
        time.sleep(0.3)
        began = time.monotonic()
        worker._train(project_id)
        assert not worker.many_saves() and trained[-1] - began >= 0.9  # held by the growth
    finally:
        stop.set()
        saver.join()
        with other.app_context():
            db.engine.dispose()


def test_many_saves_space_the_propagation_rounds_out():
    """A round of 0.2 s of CPU: the next 2 s later (PROPAGATE_PACE), or 6 s while many saves
    arrive (PROPAGATE_BUSY_PACE), at most PROPAGATE_BUSY_MAX unless the quiet pace asks more."""
    assert training.round_gap(0.01, False) == training.PROPAGATE_EVERY
    assert training.round_gap(0.2, False) == pytest.approx(2.0)
    assert training.round_gap(0.01, True) == training.PROPAGATE_BUSY
    assert training.round_gap(0.2, True) == pytest.approx(6.0)
    assert training.round_gap(0.5, True) == training.PROPAGATE_BUSY_MAX
    assert training.round_gap(2.0, True) == pytest.approx(20.0)
