from headwater.demo.run import main

raise SystemExit(main())
