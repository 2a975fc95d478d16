"""Independent MARC reading and writing with pymarc, for Rông's interop tests.

    marc_tool.py write OUT.mrc N    N UTF-8 records with Koha 952 holdings, written by pymarc
    marc_tool.py dump FILE          the records of an ISO 2709 file as JSON, read by pymarc
    marc_tool.py dump-xml FILE      the same for a MARCXML file
"""

import json
import sys

import pymarc
from pymarc import Field, Indicators, Record, Subfield

TITLES = [
    "Địa chí Kon Tum",
    "Những ngôi nhà rông Tây Nguyên",
    "Truyện cổ Ba Na",
    "Lịch sử Đảng bộ tỉnh Kon Tum",
    "Sử thi Xơ Đăng: Đăm Noi",
]
AUTHORS = ["Nguyễn Văn Ánh", "Y Điêng", "Đặng Thị Ngọc Ẩn", "A Lâm", "Trần Hữu Lộc"]
BRANCHES = ["kontum", "dakto", "dakha"]


def write(path, n):
    with open(path, "wb") as out:
        for i in range(1, n + 1):
            r = Record(force_utf8=True)
            r.leader = r.leader[:9] + "a" + r.leader[10:]
            r.add_field(Field(tag="001", data=f"PYM{i:06d}"))
            r.add_field(Field(tag="005", data="20261125120000.0"))
            r.add_field(
                Field(tag="020", indicators=Indicators(" ", " "),
                      subfields=[Subfield("a", f"978604{i:07d}")]))
            r.add_field(
                Field(tag="100", indicators=Indicators("1", " "),
                      subfields=[Subfield("a", AUTHORS[i % len(AUTHORS)] + ",")]))
            r.add_field(
                Field(tag="245", indicators=Indicators("1", "0"),
                      subfields=[Subfield("a", f"{TITLES[i % len(TITLES)]} :"),
                                 Subfield("b", f"tập {i} /"),
                                 Subfield("c", "Sở Văn hóa Kon Tum.")]))
            r.add_field(
                Field(tag="260", indicators=Indicators(" ", " "),
                      subfields=[Subfield("a", "Kon Tum :"), Subfield("b", "Nxb. Kon Tum,"),
                                 Subfield("c", str(1990 + i % 35) + ".")]))
            r.add_field(
                Field(tag="650", indicators=Indicators(" ", "7"),
                      subfields=[Subfield("a", "Địa chí"), Subfield("z", "Kon Tum")]))
            for copy in range(1 + i % 3):
                branch = BRANCHES[(i + copy) % len(BRANCHES)]
                r.add_field(
                    Field(tag="952", indicators=Indicators(" ", " "),
                          subfields=[Subfield("a", branch), Subfield("b", branch),
                                     Subfield("c", "Phòng địa chí"),
                                     Subfield("o", f"959.761 Đ{i:03d}"),
                                     Subfield("p", f"PY{i:06d}{copy}"),
                                     Subfield("y", "BOOK")]))
            out.write(r.as_marc())


def as_json(records):
    out = []
    for r in records:
        if r is None:
            out.append(None)
            continue
        fields = []
        for f in r.fields:
            if f.is_control_field():
                fields.append([f.tag, f.data])
            else:
                fields.append([f.tag, f.indicator1, f.indicator2,
                               [[s.code, s.value] for s in f.subfields]])
        out.append({"leader": str(r.leader), "fields": fields})
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], int(sys.argv[3]))
    elif cmd == "dump":
        with open(sys.argv[2], "rb") as f:
            reader = pymarc.MARCReader(f, to_unicode=True, force_utf8=True, utf8_handling="strict")
            print(json.dumps(as_json(list(reader)), ensure_ascii=False))
    elif cmd == "dump-xml":
        print(json.dumps(as_json(pymarc.parse_xml_to_array(sys.argv[2])), ensure_ascii=False))
    else:
        sys.exit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main()
