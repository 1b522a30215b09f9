from mypkg.gui import main_gui

if __name__ == "__main__":  # QC002: 1
    main_gui()
