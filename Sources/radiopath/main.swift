print("radiopath")
