"""The commands work end to end on a fresh database."""
import json


def test_import_then_export_round_trips_a_jsonl_article(runner, tmp_path):
    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps({"id": "a1", "title": "标题", "paragraphs": ["第一段。", "Second."]},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", str(source), "--project", "news"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported: 1 articles added, 0 skipped (already present), 2 paragraphs"
    result = runner.invoke(args=["export", "--project", "news"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["第一段。", "Second."]
    assert lines[0]["label"] is None and lines[0]["annotations"] == []
