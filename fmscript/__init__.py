"""fmscript: run FileMaker-style scripts from files, a REPL or Python."""
__version__ = "0.1.0"
