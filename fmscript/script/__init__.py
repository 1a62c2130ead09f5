"""The script language: scan, parse, AST, compile and the parsed-script cache."""
