"""The `fleet` command line (Typer). Each command module keeps heavy imports inside functions."""
