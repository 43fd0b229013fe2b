import pytest

from brokercrm.policy import sets as policy
from brokercrm.kernel.errors import BrokerCRMError, PolicyError
from brokercrm.trust.authz import Forbidden


def write(tmp_path, body, name="classification.toml"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def default_text(name):
    return (policy.default_policy_dir() / f"{name}.toml").read_text(encoding="utf-8")


def test_defaults_are_version_1_with_a_digest(db):
    ps = policy.current(db)
    assert ps.version == 1
    assert set(ps.files) >= {"classification", "questionnaire"}
    assert ps.digest == policy.set_digest(ps.files)
    assert ps["classification"]["grid"]["turnover_threshold"] == 3.0


def test_publish_defaults_is_idempotent(db, admin):
    assert policy.publish_defaults(db, admin).version == 1
    assert db.execute("SELECT count(*) FROM policy_versions").fetchone()[0] == 1


def test_publish_makes_a_new_version_and_carries_other_files(db, admin, tmp_path):
    body = default_text("classification").replace("turnover_threshold = 3.0", "turnover_threshold = 2.5")
    ps = policy.publish(db, write(tmp_path, body), admin)
    assert ps.version == 2
    assert ps["classification"]["grid"]["turnover_threshold"] == 2.5
    assert ps.files["questionnaire"].sha256 == policy.load_version(db, 1).files["questionnaire"].sha256
    assert policy.current(db).digest == ps.digest != policy.load_version(db, 1).digest
    audit = db.execute("SELECT action, operator, digest FROM audit_log WHERE action = 'policy.publish'").fetchall()
    assert ("policy.publish", "admin", ps.digest) in audit


def test_publishing_an_identical_file_is_refused(db, admin, tmp_path):
    with pytest.raises(BrokerCRMError, match="相同"):
        policy.publish(db, write(tmp_path, default_text("classification")), admin)


def test_only_head_office_publishes(db, actors, tmp_path):
    body = default_text("classification").replace("turnover_threshold = 3.0", "turnover_threshold = 2.5")
    with pytest.raises(Forbidden):
        policy.publish(db, write(tmp_path, body), actors("ty", branch="TY01"))
    assert policy.current(db).version == 1
    assert policy.publish(db, write(tmp_path, body), actors("hq2")).version == 2


def test_only_head_office_publishes_policy(db, actors, tmp_path):
    # The library refuses, whoever calls it (the CLI used to be the only place that checked):
    # no operator, a bare id that is not an authenticated actor, a branch operator.
    path = write(tmp_path, default_text("classification").replace("turnover_threshold = 3.0", "turnover_threshold = 2.5"))
    for who in (None, "admin", actors("ty", branch="TY01")):
        with pytest.raises(Forbidden):
            policy.publish(db, path, who)
    assert policy.current(db).version == 1


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("turnover_threshold = 3.0", 'turnover_threshold = "三"', "grid.turnover_threshold"),
        ("min = 1_000_000", "min = 9_000_000", "grid.bands[1].min"),
        ('high = "A"\n', 'high = "Z"\n', "grid.bands[1].high"),
        ("min = 0\n", "min = 1\n", "grid.bands[5].min"),
        ('field = "trading_volume"', 'field = "wealth"', "value.rules[0].any[1].field"),
        ("short_below = 30", "short_below = 100", "habit.short_below"),
        ('name = "classification"', 'name = "nonsense"', "policy.name"),
    ],
)
def test_invalid_policy_names_file_and_key(tmp_path, old, new, key):
    body = default_text("classification")
    assert old in body
    path = write(tmp_path, body.replace(old, new, 1))
    with pytest.raises(PolicyError) as e:
        policy.load_file(path)
    assert str(path) in str(e.value) and key in str(e.value)


def test_toml_syntax_error_names_file(tmp_path):
    path = write(tmp_path, "[grid\n")
    with pytest.raises(PolicyError, match="classification.toml: TOML"):
        policy.load_file(path)


def test_questionnaire_levels_must_ascend(tmp_path):
    body = default_text("questionnaire").replace("min = 27", "min = 19")
    with pytest.raises(PolicyError, match=r"levels\[2\].min"):
        policy.load_file(write(tmp_path, body, "questionnaire.toml"))


@pytest.mark.parametrize("name, old, new, key, message", [
    ("questionnaire", 'id = "q2"', 'id = "q1"', "questions[1].id", "重复的题号 'q1' (duplicate question id)"),
    ("packages", 'code = "hnw_entrepreneur"', 'code = "institution"', "packages[1].code",
     "重复的服务包代码 'institution' (duplicate package code)"),
])
def test_duplicate_ids_are_refused(tmp_path, name, old, new, key, message):
    body = default_text(name)
    assert old in body
    with pytest.raises(PolicyError) as e:
        policy.load_file(write(tmp_path, body.replace(old, new, 1), f"{name}.toml"))
    assert f"{key}: {message}" in str(e.value)


def test_policy_check_cli(run, tmp_path):
    good = write(tmp_path, default_text("classification"))
    # Checking a file reads no client data: it needs no operator.
    assert "有效" in run("policy", "check", str(good), operator=None).output
    bad = write(tmp_path, default_text("classification").replace("turnover_threshold = 3.0", ""), "bad.toml")
    result = run("policy", "check", str(bad), ok=False, operator=None)
    assert result.exit_code == 1
    assert "grid.turnover_threshold" in result.output and "Traceback" not in result.output


def test_policy_show_json(run):
    import json

    info = json.loads(run("policy", "show", "--json", operator=None).output)
    assert info["version"] == 1 and len(info["digest"]) == 64
    assert set(info["files"]) >= {"classification", "questionnaire"}
