# The seed's calculator switched to `spawn` with the freeze_support() call removed:
# frozen, every worker re-runs the whole app (the seed's fork-bomb bug).
# ruff: noqa
# fmt: off
import multiprocessing
import sys

from PyQt5.QtWidgets import QApplication, QLineEdit, QListWidget, QPushButton
from PyQt5.QtWidgets import QMainWindow


# process to calculate, data by Queue across processes
def calculate(input_queue_a: multiprocessing.Queue, output_queue_a: multiprocessing.Queue):
    while True:
        try:
            x, y = input_queue_a.get()
            result = x + y
            output_queue_a.put({"x": x, "y": y, "result": result})
        except:
            continue

def tryParse(s, default_value=0.0):
    try:
        num = float(s)
    except ValueError:
        num = default_value
    return num


# Press the green button in the gutter to run the script.
if __name__ == '__main__':
    multiprocessing.set_start_method('spawn')

    input_queue = multiprocessing.Queue()
    output_queue = multiprocessing.Queue()

    multiprocessing.Process(target=calculate, daemon=True, args=(input_queue, output_queue)).start()

    # PyQt Window
    app = QApplication(sys.argv)
    window = QMainWindow()
    window.setWindowTitle('Multiprocessing')

    # add ui elements here
    num1_input = QLineEdit(window)
    num1_input.move(20, 20)
    num1_input.resize(200, 30)

    num2_input = QLineEdit(window)
    num2_input.move(20, 60)
    num2_input.resize(200, 30)

    calculate_button = QPushButton('Calculate', window)
    calculate_button.move(20, 100)
    calculate_button.resize(200, 30)

    output_list = QListWidget(window)
    output_list.move(20, 140)
    output_list.resize(200, 200)


    def calculate():
        x = tryParse(num1_input.text() or 0.0)
        y = tryParse(num2_input.text() or 0.0)
        input_queue.put((x, y))
        try:
            xy_result = output_queue.get()
            output_list.addItem(f"{xy_result['x']} + {xy_result['y']} = {xy_result['result']}")
        except Exception as e:
            output_list.addItem(f"Error{e}")

        output_list.scrollToBottom()


    calculate_button.clicked.connect(calculate)
    num2_input.returnPressed.connect(calculate)
    num1_input.returnPressed.connect(calculate)

    window.resize(240, 360)
    # fix window size, set it to non-resizable
    window.setFixedSize(240, 360)

    window.show()

    # exit app when close window
    sys.exit(app.exec_())
