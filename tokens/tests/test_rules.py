"""Input rules for tokens (reference: agora-console.md section 5)."""

import string

import pytest

from tokens import rules
from tokens.accesstoken2 import MAX_U32, TokenError

# The documented set: a-z A-Z 0-9 space and ! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ ,
DOCUMENTED_PUNCTUATION = "! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ ,".split(" ")
DOCUMENTED = set(string.ascii_letters + string.digits + " ") | set(DOCUMENTED_PUNCTUATION)
NOT_ALLOWED = ["/", "\\", "'", '"', "*", "`", "\t", "\n", "\x00", "\x7f", "é", "ß", "中", "🙂", "\u00a0", "０"]


def test_the_allowed_characters_are_exactly_the_documented_set():
    assert len(DOCUMENTED) == 26 + 26 + 10 + 1 + 26
    assert set(rules.NAME_CHARACTERS) == DOCUMENTED


# Channel names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("character", sorted(DOCUMENTED))
def test_channel_name_accepts_every_allowed_character(character):
    assert rules.channel_name(character) == character
    assert rules.channel_name(f"a{character}b") == f"a{character}b"


def test_channel_name_with_all_allowed_characters():
    allowed = "".join(sorted(DOCUMENTED))
    for start in range(0, len(allowed), 63):
        chunk = allowed[start : start + 63]
        assert rules.channel_name(chunk) == chunk


@pytest.mark.parametrize("character", NOT_ALLOWED)
def test_channel_name_refuses_other_characters(character):
    with pytest.raises(TokenError, match="not allowed"):
        rules.channel_name(f"room{character}1")


def test_channel_name_is_fewer_than_64_bytes():
    assert rules.channel_name("a" * 63) == "a" * 63
    assert rules.channel_name("7d72365eb983485397e3e3f9d460bdda") == "7d72365eb983485397e3e3f9d460bdda"
    with pytest.raises(TokenError, match="shorter than 64 bytes"):
        rules.channel_name("a" * 64)
    with pytest.raises(TokenError, match="64"):
        rules.channel_name("a" * 1000)


@pytest.mark.parametrize("value", ["é", "café", "频道", "room🙂", "é" * 32, "a" * 62 + "é"])
def test_channel_name_refuses_unicode(value):
    with pytest.raises(TokenError):
        rules.channel_name(value)


@pytest.mark.parametrize("value", ["", None, 42, b"room", ["room"]])
def test_channel_name_is_required_text(value):
    with pytest.raises(TokenError, match="Enter a channel name"):
        rules.channel_name(value)


def test_channel_name_is_kept_as_given():
    assert rules.channel_name(" room ") == " room "  # space is in the allowed set, even at the ends
    assert rules.channel_name("Room-1") == "Room-1"


def test_the_error_names_the_bad_characters():
    with pytest.raises(TokenError, match=r"'/'"):
        rules.channel_name("a/b")


# Uids -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 1000, 2**31, MAX_U32])
def test_uid_bounds(value):
    assert rules.uid(value) == value


@pytest.mark.parametrize("value", [-1, MAX_U32 + 1, 2**64, -(2**32)])
def test_uid_out_of_range(value):
    with pytest.raises(TokenError, match="between 0 and 4294967295"):
        rules.uid(value)


@pytest.mark.parametrize(
    "text, value", [("0", 0), ("42", 42), ("4294967295", MAX_U32), (" 7 ", 7), ("007", 7), ("2882341273", 2882341273)]
)
def test_uid_from_text(text, value):
    assert rules.uid(text) == value


@pytest.mark.parametrize("text", ["", " ", "-1", "+1", "1.5", "1e3", "0x10", "abc", "12 34", "4294967296", "9" * 30])
def test_uid_text_that_is_not_a_uid(text):
    with pytest.raises(TokenError):
        rules.uid(text)


@pytest.mark.parametrize("value", [True, False, 1.0, None, [1], b"1"])
def test_uid_of_the_wrong_type(value):
    with pytest.raises(TokenError):
        rules.uid(value)


@pytest.mark.parametrize("text", ["²", "٣", "１２", "3٣"])
def test_uid_digits_are_ascii_only(text):
    # str.isdigit() accepts these; int() rejects "²" and reads "٣" (Arabic-Indic three) as 3.
    with pytest.raises(TokenError):
        rules.uid(text)


# User accounts (string uids) ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "0", "alice", "2882341273", "a" * 255, "User Name (1) ~ [x]"])
def test_account_accepts_1_to_255_bytes(value):
    assert rules.account(value) == value


def test_account_longer_than_255_bytes():
    with pytest.raises(TokenError, match="at most 255 bytes"):
        rules.account("a" * 256)


@pytest.mark.parametrize("value", ["", None, 0, 42, b"alice"])
def test_account_is_required_text(value):
    with pytest.raises(TokenError, match="Enter a user account"):
        rules.account(value)


@pytest.mark.parametrize("value", ["ali/ce", "alice\n", "élise", "用户", "bob🙂", "é" * 128])
def test_account_uses_the_channel_character_set(value):
    with pytest.raises(TokenError):
        rules.account(value)


# RTM and Chat user ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["u", "test_user", "user/with:slash", "x" * 64, "a b", "~!@#$%^&*()'\"`"])
def test_user_id_accepts_printable_ascii_up_to_64_bytes(value):
    assert rules.user_id(value) == value


def test_user_id_longer_than_64_bytes():
    with pytest.raises(TokenError, match="at most 64 bytes"):
        rules.user_id("x" * 65)


@pytest.mark.parametrize("value", ["", "   ", None, 7, b"user"])
def test_user_id_is_required_text(value):
    with pytest.raises(TokenError, match="Enter a user id"):
        rules.user_id(value)


@pytest.mark.parametrize("value", [" user", "user ", "\tuser"])
def test_user_id_without_surrounding_spaces(value):
    with pytest.raises(TokenError, match="start or end with a space"):
        rules.user_id(value)


@pytest.mark.parametrize("value", ["usér", "用户", "a\tb", "a\nb", "a\x00b", "a\x7fb", "🙂"])
def test_user_id_refuses_other_characters(value):
    with pytest.raises(TokenError, match="printable ASCII"):
        rules.user_id(value)


# Expiry -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 60, 3600, 86_400])
def test_expiry_between_1_second_and_24_hours(value):
    assert rules.expire(value) == value


@pytest.mark.parametrize("value", [0, -1, 86_401, 10**9])
def test_expiry_out_of_range(value):
    with pytest.raises(TokenError, match="between 1 and 86,400 seconds"):
        rules.expire(value)


def test_expiry_with_a_custom_maximum():
    week = 7 * 86_400
    assert rules.expire(86_401, week) == 86_401
    assert rules.expire(week, maximum=week) == week
    with pytest.raises(TokenError, match="between 1 and 604,800 seconds"):
        rules.expire(week + 1, week)
    assert rules.expire(60, 60) == 60
    with pytest.raises(TokenError, match="between 1 and 60 seconds"):
        rules.expire(61, 60)
    with pytest.raises(TokenError):
        rules.expire(0, week)


@pytest.mark.parametrize("text, value", [("600", 600), (" 3600 ", 3600), ("86400", 86_400)])
def test_expiry_from_text(text, value):
    assert rules.expire(text) == value


@pytest.mark.parametrize("value", ["", "abc", "-5", "1.5", "0", "86401", True, False, 1.0, 600.0, None, [600]])
def test_expiry_that_is_not_a_number_of_seconds(value):
    with pytest.raises(TokenError):
        rules.expire(value)


def test_expiry_error_names_the_field():
    with pytest.raises(TokenError, match="^The privilege expiry must be"):
        rules.expire(0, what="The privilege expiry")
    with pytest.raises(TokenError, match="^The privilege expiry must be a number of seconds"):
        rules.expire("soon", what="The privilege expiry")


@pytest.mark.parametrize("text", ["²", "٦٠٠", "６００"])
def test_expiry_digits_are_ascii_only(text):
    with pytest.raises(TokenError, match="must be a number of seconds"):
        rules.expire(text)


# Roles ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, role", [("publisher", 1), ("subscriber", 2), (1, 1), (2, 2), ("1", 1), ("2", 2)])
def test_role_names_and_numbers(value, role):
    assert rules.role(value) == role


@pytest.mark.parametrize("value", ["Publisher", "SUBSCRIBER", "admin", "", "0", "3", 0, 3, -1, True, False, None])
def test_other_roles_are_refused(value):
    with pytest.raises(TokenError, match='"publisher" or "subscriber"'):
        rules.role(value)


@pytest.mark.parametrize("value", [["publisher"], {"role": 1}])
def test_unhashable_role_is_a_token_error(value):
    with pytest.raises(TokenError):
        rules.role(value)
