"""Get names: at least 30, each with its zh-Hans name in the catalogue, usable in both languages."""
from fmscript import catalog
from fmscript.calc.functions import GET_DOCS, GET_NAMES, registry


def test_every_get_name_has_a_zh_name_in_the_catalogue():
    registry()
    missing = [n for n in GET_DOCS if not (catalog.gets().get(n) and catalog.gets().get(n).zh)]
    assert missing == []
    assert len(GET_NAMES) >= 30


def test_every_get_name_has_a_description():
    registry()
    assert [n for n, d in GET_DOCS.items() if not d] == []


def test_zh_and_english_get_names_agree(calc):
    assert calc("Get ( 系统平台 )") == calc("Get ( SystemPlatform )")
    assert calc("Get ( 账户名称 )") == calc("Get ( AccountName )") == "Admin"


def test_every_get_name_evaluates(calc):
    registry()
    for name in GET_DOCS:
        assert calc(f"Get ( {name} )") is not None


def test_clock_names_follow_the_fixed_clock(calc):
    import datetime as dt

    from fmscript.calc.functions import get

    with get.fixed_clock(dt.datetime(2026, 10, 2, 1, 0, tzinfo=dt.timezone.utc)):
        assert calc("Get ( CurrentTimeUTCMilliseconds )") == "63926499600000"
        assert calc("Get ( CurrentTimeUTCMicroseconds )") == "63926499600000000"
        assert calc("Get ( CurrentTimestamp )") == "10/2/2026 1:00:00 AM"


def test_uuid_is_new_each_time(calc):
    a, b = calc("Get ( UUID )"), calc("Get ( UUID )")
    assert a != b and len(a) == 36 and a == a.upper()


def test_last_error_detail_after_a_failed_calculation(calc):
    assert calc("1 / 0") == "?"
    assert "division by zero" in calc("Get ( LastErrorDetail )")
