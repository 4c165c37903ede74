import pytest

from harness.api.errors import UnknownNameError
from harness.api.registry import Registry


def test_registration_lookup_and_listing():
    reg = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        pass

    @reg.register("beta-2")
    class Beta:
        pass

    assert reg.get("alpha") is Alpha and Alpha.registered_name == "alpha"
    assert reg.names() == ["alpha", "beta-2"]
    assert reg.names("b*") == ["beta-2"]
    assert "alpha" in reg and len(reg) == 2


def test_duplicates_refused():
    reg = Registry("widget")
    reg.register("alpha")(type("A", (), {}))
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha")(type("B", (), {}))


def test_unknown_name_lists_known_and_closest():
    reg = Registry("widget")
    reg.register("alpha")(type("A", (), {}))
    reg.register("gamma")(type("G", (), {}))
    with pytest.raises(UnknownNameError) as info:
        reg.get("alpah")
    assert str(info.value) == "unknown widget 'alpah'; did you mean 'alpha'? known: alpha, gamma"


def test_invalid_names_refused():
    with pytest.raises(ValueError, match="invalid"):
        Registry("widget").register("Bad Name")
