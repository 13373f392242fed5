from fleet.cli.main import entry

entry()
