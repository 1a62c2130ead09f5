"""`fmscript import-xml` on a large synthetic Save-as-XML export: time and peak memory (RSS) of the import.

The export is generated into a temporary folder in FileMaker's shape (tables with fields and their options,
occurrences and relationships, value lists, a custom function the scripts call, layouts with objects and portals,
scripts in folders with typed step parameters, DDR_INFO step texts), to about --mb megabytes, written as
UTF-16 as FileMaker writes it (--utf8 for UTF-8).  The import runs in its own process, so its peak RSS is its own.

    python bench/bench_import_xml.py [--mb 200] [--utf8] [--plain] [--keep DIR]

One step in five is an Insert from URL (no row: it waits for DDR_INFO's text, which one script in twenty has);
--plain leaves them out.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = [
    '<Step hash="{h}" index="{i}" id="141" name="Set Variable" enable="True"><UUID>{h}</UUID><Options>0</Options>'
    '<ParameterValues membercount="1"><Parameter type="Variable"><value><Calculation datatype="1" position="1">'
    '<Calculation><Text><![CDATA[$total + Twice ( Table{t}::Field{f} ) * {i}]]></Text></Calculation></Calculation>'
    '</value>'
    '<Name value="$total"></Name></Parameter></ParameterValues></Step>',
    '<Step hash="{h}" index="{i}" id="68" name="If" enable="True"><ParameterValues membercount="2"><Parameter '
    'type="Boolean"><Boolean type="Collapsed" value="False"></Boolean></Parameter><Parameter type="Calculation">'
    '<Calculation datatype="1" position="0"><Calculation><Text><![CDATA[$total > {i}]]></Text></Calculation>'
    '</Calculation></Parameter></ParameterValues></Step>',
    '<Step hash="{h}" index="{i}" id="89" name="# (comment)" enable="True"><ParameterValues membercount="1">'
    '<Parameter type="Comment"><Comment value="step {i} of a long script"></Comment></Parameter></ParameterValues>'
    '</Step>',
    '<Step hash="{h}" index="{i}" id="70" name="End If" enable="True"></Step>',
    '<Step hash="{h}" index="{i}" id="160" name="Insert from URL" enable="True"><DDRREF kind="StepText">_{h}'
    '</DDRREF><ParameterValues membercount="2"><Parameter type="Target"><Variable value="$r"></Variable>'
    '</Parameter><Parameter type="URL"><Calculation datatype="1" position="0"><Calculation><Text><![CDATA['
    '"https://example.org/" & {i}]]></Text></Calculation></Calculation></Parameter></ParameterValues></Step>',
]


def generate(path: Path, mb: int, encoding: str, plain: bool = False) -> dict:
    steps = STEPS[:4] if plain else STEPS
    target = mb * 1024 * 1024 // (2 if encoding == "utf-16" else 1)  # characters
    tables, fields, layouts = 40, 60, 200
    counts = {"tables": tables, "fields": tables * fields, "layouts": layouts, "scripts": 0, "steps": 0}
    ddr = []
    with open(path, "w", encoding=encoding) as out:
        w = out.write
        w(f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n<FMSaveAsXML version="2.2.3.0" Source="22.0.1" '
          'File="Big.fmp12" Has_DDR_INFO="True">\n<Structure membercount="1"><AddAction>\n<BaseTableCatalog>\n')
        for t in range(tables):
            w(f'<BaseTable id="{t + 129}" name="Table{t}"><UUID>BT{t}</UUID></BaseTable>\n')
        w("</BaseTableCatalog>\n<TableOccurrenceCatalog>\n")
        for t in range(tables):
            w(f'<TableOccurrence id="{t}" name="Table{t}" type="Local"><BaseTableSourceReference>'
              f'<BaseTableReference id="{t + 129}" name="Table{t}"/></BaseTableSourceReference></TableOccurrence>\n')
        for t in range(1, tables):  # an occurrence of each table's predecessor, related to it: a tree
            w(f'<TableOccurrence id="p{t}" name="Parent{t}" type="Local"><BaseTableSourceReference>'
              f'<BaseTableReference id="{t + 128}" name="Table{t - 1}"/></BaseTableSourceReference></TableOccurrence>\n')
        w("</TableOccurrenceCatalog>\n<CustomFunctionsCatalog><ObjectList>\n<CustomFunction id=\"1\" name=\"Twice\">"
          "<ObjectList><Parameter name=\"x\"/></ObjectList></CustomFunction>\n</ObjectList></CustomFunctionsCatalog>\n")
        w("<ValueListCatalog>" + "".join(f'<ValueList id="{t}" name="List{t}"/>' for t in range(tables))
          + "</ValueListCatalog>\n<OptionsForValueLists>" + "".join(
              f'<ValueList><ValueListReference id="{t}" name="List{t}"/><Source value="FromField"/><Field><PrimaryField>'
              f'<FieldReference id="1" name="Field0"><TableOccurrenceReference name="Table{t}"/></FieldReference>'
              '</PrimaryField></Field></ValueList>' for t in range(tables)) + "</OptionsForValueLists>\n")
        w("<RelationshipCatalog>\n")
        for t in range(1, tables):
            w(f'<Relationship id="{t}"><LeftTable cascadeCreate="False" cascadeDelete="False"><TableOccurrenceReference '
              f'name="Table{t}"/></LeftTable><RightTable cascadeCreate="False" cascadeDelete="True">'
              f'<TableOccurrenceReference name="Parent{t}"/><SortSpecification value="True"><SortList><Sort '
              f'type="Descending"><PrimaryField><FieldReference name="Field1"><TableOccurrenceReference '
              f'name="Parent{t}"/></FieldReference></PrimaryField></Sort></SortList></SortSpecification></RightTable>'
              '<JoinPredicateList><JoinPredicate type="Equal"><LeftField><FieldReference name="Field0"/></LeftField>'
              '<RightField><FieldReference name="Field2"/></RightField></JoinPredicate><JoinPredicate '
              'type="GreaterOrEqual"><LeftField><FieldReference name="Field1"/></LeftField><RightField>'
              '<FieldReference name="Field3"/></RightField></JoinPredicate></JoinPredicateList></Relationship>\n')
        w("</RelationshipCatalog>\n<CalcsForCustomFunctions><ObjectList><CustomFunctionCalc><CustomFunctionReference "
          "id=\"1\" name=\"Twice\"/><Calculation><Text><![CDATA[x * 2]]></Text></Calculation></CustomFunctionCalc>"
          "</ObjectList></CalcsForCustomFunctions>\n<FieldsForTables>\n")
        for t in range(tables):
            w(f'<FieldCatalog><BaseTableReference id="{t + 129}" name="Table{t}"/><ObjectList>\n')
            for f in range(fields):
                kind = f % 6
                opts = ('<AutoEnter type="Calculated"><Calculation><Text><![CDATA[Get ( UUID )]]></Text></Calculation>'
                        '</AutoEnter>' if kind == 0 else
                        '<AutoEnter type="SerialNumber"><SerialNumber increment="1" nextvalue="1" generate="OnCreation"/>'
                        '</AutoEnter>' if kind == 1 else
                        '<Validation type="Always" notEmpty="True" unique="True"><Range from="1" to="99"/></Validation>'
                        if kind == 3 else "")
                ftype = "Calculated" if kind == 5 else "Normal"
                calc = "<Calculation><Text><![CDATA[Twice ( Field1 )]]></Text></Calculation>" if kind == 5 else ""
                w(f'<Field id="{f + 1}" name="Field{f}" fieldtype="{ftype}" datatype="{"Number" if f % 2 else "Text"}">'
                  f'{opts}{calc}<Storage global="False" maxRepetitions="1" storeCalculationResults="True"/></Field>\n')
            w("</ObjectList></FieldCatalog>\n")
        w("</FieldsForTables>\n<ScriptCatalog>\n")
        # scripts until the file is big enough: the catalogue first needs the count, so size a script first
        per_script = 400
        step_chars = sum(len(s) for s in steps) // len(steps) + 40
        n_scripts = max(1, int(target * 0.9) // (per_script * step_chars))
        for s in range(n_scripts):
            w(f'<Group id="g{s}" name="Folder {s % 50}">' if s % 10 == 0 else "")
            w(f'<Script id="{s + 1}" name="Script {s}"><UUID>S{s}</UUID></Script>\n')
            w("</Group>\n" if s % 10 == 9 or s == n_scripts - 1 else "")
        w("</ScriptCatalog>\n<LayoutCatalog>\n")
        for lay in range(layouts):
            w(f'<Layout id="{lay}" name="Layout {lay}"><TableOccurrenceReference name="Table{lay % tables}"/>'
              '<PartsList><Part type="Body"><ObjectList>'
              + "".join(f'<LayoutObject type="Field" name="o{k}"><Bounds top="{k}"/></LayoutObject>' for k in range(50))
              + (f'<LayoutObject type="Portal" name="p{lay}"><Portal><TableOccurrenceReference name="Parent{lay % tables}"/>'
                 '</Portal></LayoutObject>' if lay % tables else "")
              + "</ObjectList></Part></PartsList></Layout>\n")
        w("</LayoutCatalog>\n<StepsForScripts>\n")
        for s in range(n_scripts):
            w(f'<Script><ScriptReference id="{s + 1}" name="Script {s}"/><ObjectList>\n')
            for i in range(per_script):
                h = f"{s}x{i}"
                w(steps[i % len(steps)].format(h=h, i=i, t=i % tables, f=i % fields) + "\n")
                if i % len(steps) == 4 and s % 20 == 0:
                    ddr.append(h)
            w("</ObjectList></Script>\n")
        counts["scripts"], counts["steps"] = n_scripts, n_scripts * per_script
        w("</StepsForScripts>\n</AddAction></Structure>\n<DDR_INFO><Script><ObjectList>\n")
        for h in ddr:
            w(f'<_{h} hash="{h}" datatype="StepText">Insert from URL [ Target: $r ; "https://example.org/" ]'
              f'</_{h}>\n')
        w("</ObjectList></Script></DDR_INFO>\n</FMSaveAsXML>\n")
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--utf8", action="store_true")
    ap.add_argument("--plain", action="store_true",
                    help="only steps with a row (none waits for DDR_INFO): memory should not grow with the size")
    ap.add_argument("--keep", metavar="DIR", help="generate and import in DIR (kept) instead of a temporary folder")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fmscript-bench-xml-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "Big.xml"
    t0 = time.perf_counter()
    counts = generate(src, args.mb, "utf-8" if args.utf8 else "utf-16", args.plain)
    gen_s = time.perf_counter() - t0
    for p in (work / "app.sqlite", ):
        p.unlink(missing_ok=True)
    scripts = work / "scripts"
    if scripts.exists():
        subprocess.run(["rm", "-rf", str(scripts)], check=True)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fmscript", "import-xml", str(src), "-o", str(work / "app.sqlite"),
                           "--scripts", str(scripts)], capture_output=True, text=True)
    import_s = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        return 1
    result = {"export_mb": round(src.stat().st_size / 2 ** 20, 1), "encoding": "utf-8" if args.utf8 else "utf-16",
              "plain": args.plain,
              **counts, "generate_s": round(gen_s, 1), "import_s": round(import_s, 1),
              "import_peak_rss_mb": round(peak_kb / 1024, 1),
              "summary": [ln.strip() for ln in done.stderr.splitlines() if ln.startswith("  ")]}
    print(json.dumps(result, indent=2))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
