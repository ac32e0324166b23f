from dynio.cli import main

raise SystemExit(main())
