"""Colours, encodings, digests, containers, paths and the Japanese functions."""
import pytest

CASES = [
    ("RGB ( 300 ; -1 ; 1 )", "16711681"),
    ('Base64Encode ( "" )', ""),
    ('Base64Decode ( "QmxhY2s=" )', "Black"),
    ('Base64Decode ( "QmxhY2s" )', "Black"),
    ('Base64EncodeRFC ( 1421 ; "x" )', "eA=="),
    ('Base64EncodeRFC ( 4880 ; "Black" )', "QmxhY2s=\r\n=Yb2R"),
    ('Length ( Base64EncodeRFC ( 2045 ; Substitute ( "x" ; "x" ; "0123456789012345678901234567890123456789012345678901234567890123456789" ) ) )', "98"),
    ('HexEncode ( "é" )', "C3A9"),
    ('HexDecode ( "c3a9" )', "é"),
    ('HexDecode ( "zz" )', "?"),
    ('HexEncode ( CryptDigest ( "abc" ; "MD5" ) )', "900150983CD24FB0D6963F7D28E17F72"),
    ('HexEncode ( CryptDigest ( "abc" ; "SHA1" ) )', "A9993E364706816ABA3E25717850C26C9CD0D89D"),
    ('Base64EncodeRFC ( 4648 ; CryptAuthCode ( "payload" ; "SHA256" ; "secret" ) )',
     "uC/LeRrOxXhZuYm0MKgmSIzi5Hn9+SMmvQoug3WkK6Q="),
    ('CryptDigest ( "abc" ; "NOPE" )', "?"),
    ('GetContainerAttribute ( TextEncode ( "hello" ; "utf-8" ; 1 ) ; "fileSize" )', "5"),
    ('TextDecode ( TextEncode ( "café" ; "iso-8859-1" ; 1 ) ; "iso-8859-1" )', "café"),
    ('GetContainerAttribute ( TextEncode ( "a¶b" ; "utf-8" ; 2 ) ; "fileSize" )', "4"),
    ('ConvertToFileMakerPath ( "/etc/hosts" ; PosixPath )', "file:/etc/hosts"),
    ('ConvertToFileMakerPath ( "C:\\Users\\x.txt" ; WinPath )', "file:/C:/Users/x.txt"),
    ('ConvertFromFileMakerPath ( "file:/C:/Users/x.txt" ; WinPath )', "C:\\Users\\x.txt"),
    ('ConvertFromFileMakerPath ( "file:/tmp/a b" ; URLPath )', "file:///tmp/a%20b"),
    ('YearName ( Date ( 1 ; 7 ; 1989 ) ; 0 )', "昭和64"),
    ('YearName ( Date ( 1 ; 8 ; 1989 ) ; 0 )', "平成元"),
    ('KanaHankaku ( "ガッコウ" )', "ｶﾞｯｺｳ"),
    ('KanaZenkaku ( "ｶﾞｯｺｳ" )', "ガッコウ"),
    ('Katakana ( "ｶﾞｯｺｳ" )', "ガッコウ"),
    ('RomanZenkaku ( "A 1" )', "Ａ\u3000１"),
    ('NumToJText ( 10000 ; 2 ; 2 )', "一万"),
    ('NumToJText ( 1010 ; 3 ; 2 )', "千十"),
    ('NumToJText ( 1234 ; 1 ; 1 )', "１，２３４"),
    ('NumToJText ( 0 ; 3 ; 2 )', "〇"),
    ('NumToJText ( -0.5 ; 0 ; 0 )', "0"),
    ('NumToJText ( 12345678901234567890 ; 2 ; 0 )', "1234京5678兆9012億3456万7890"),
    ('NumToJText ( 1' + '0' * 68 + ' ; 2 ; 0 )', "1無量大数"),
    ('NumToJText ( 1' + '0' * 72 + ' ; 2 ; 2 )', "一万無量大数"),  # past the last unit the groups count on
    ('NumToJText ( 1' + '0' * 76 + ' ; 3 ; 2 )', "一億無量大数"),
    ('NumToJText ( 1' + '0' * 400 + ' ; 2 ; 0 )', "1那由他" + "無量大数" * 5),  # 10^60 · (10^68)^5
    ('NumToJText ( 1e999 ; 2 ; 0 )', "1000載" + "無量大数" * 14),  # the largest number: 10^3 · 10^44 · (10^68)^14
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_extra(calc, expr, expected):
    assert calc(expr) == expected


def test_crc24_is_openpgp_crc():
    from fmscript.calc.functions.extra import _crc24

    assert _crc24(b"123456789") == 0x21CF02
