"""Built-in example products for the Predict tab: written for this project (no dataset copy), so a
Space that cannot read the test data still offers something to click.

Each is a title and a description in the course's categories, long enough for the training
filter (more than 150 Llama tokens), with no true price: they are for trying the pricers, not
for judging them (the test items do that).
"""

from __future__ import annotations

from typing import NamedTuple


class Example(NamedTuple):
    title: str
    description: str

    @property
    def text(self) -> str:
        """As a person pastes it into Predict: the title on the first line, then the description."""
        return f"{self.title}\n{self.description}"


EXAMPLES: tuple[Example, ...] = (
    Example(
        "Cordless Drill Driver Kit, 20V, 1/2-Inch Keyless Chuck, 2 Batteries and Charger",
        "Compact cordless drill driver with a brushless motor delivering up to 530 in-lbs of torque and two "
        "speed settings (0-450 and 0-1,800 RPM). The 1/2-inch keyless chuck holds bits firmly, and the 22+1 "
        "clutch settings let you drive screws into drywall, wood or metal without stripping them. Kit includes "
        "two 2.0Ah lithium-ion batteries with fuel gauges, a one-hour fast charger, a double-ended bit and a "
        "contractor bag. LED work light with 20-second delay, ergonomic rubber grip, belt clip. Weighs 3.4 "
        "pounds with the battery. Three-year limited warranty. Item weight 5.2 pounds, dimensions 10 x 9 x 4 "
        "inches.",
    ),
    Example(
        "Stainless Steel Electric Kettle, 1.7 Liter, Auto Shut-Off and Boil-Dry Protection",
        "Boils up to 1.7 liters of water in about five minutes with a 1,500-watt heating element concealed "
        "under a brushed stainless steel base. The cordless kettle lifts off its 360-degree swivel base for "
        "easy pouring, and the wide lid opens with one touch for filling and cleaning. Automatic shut-off when "
        "the water boils and boil-dry protection when the kettle is empty. Removable, washable mesh filter keeps "
        "scale out of your tea. Water window with measurement markings, cool-touch handle, BPA-free. Cord storage "
        "in the base. Dimensions 9 x 6.5 x 10 inches; weight 2.4 pounds. Blue LED ring lights while heating. One-year "
        "warranty.",
    ),
    Example(
        "Car Battery Jump Starter, 2000A Peak, for Gas Engines up to 8.0L and Diesel up to 6.5L",
        "Portable lithium jump starter that starts a flat car, truck, SUV or boat battery up to 30 times on a "
        "single charge. Smart clamps with reverse-polarity, short-circuit, over-current and over-heat "
        "protection, plus a green light when connected correctly. Doubles as a power bank with USB-C and USB-A "
        "ports to charge phones and tablets, and a built-in LED flashlight with strobe and SOS modes. Works in "
        "temperatures from -4 F to 140 F. Includes heavy-duty clamps, USB-C charging cable and a carrying case. "
        "Weight 2.1 pounds; dimensions 7.8 x 3.3 x 1.6 inches. 18-month warranty.",
    ),
    Example(
        "Wireless Noise Cancelling Over-Ear Headphones, Bluetooth 5.3, 40-Hour Battery",
        "Hybrid active noise cancelling over-ear headphones with four microphones that reduce engine, traffic "
        "and office noise, and a transparency mode to hear announcements without taking them off. 40 mm dynamic "
        "drivers tuned for deep bass and clear vocals, with high-resolution audio over the included 3.5 mm cable. "
        "Up to 40 hours of playback with noise cancelling on, and a five-minute charge gives two hours. Bluetooth "
        "5.3 multipoint connects a phone and a laptop at once. Memory foam ear cushions, foldable design, travel "
        "case, USB-C charging cable and airplane adapter included. Touch controls on the right ear cup, voice "
        "assistant button, and a companion app with a five-band equalizer. Weight 9.2 ounces.",
    ),
    Example(
        "Digital Piano 88 Weighted Keys with Sustain Pedal, Stand and Bench",
        "Full-size 88-key digital piano with graded hammer-action keys that feel heavier in the bass and lighter "
        "in the treble, like an acoustic piano. 128-note polyphony, 20 instrument voices including concert grand, "
        "electric piano, organ and strings, and 200 rhythms. Built-in 2 x 20 W speakers, headphone jack for silent "
        "practice, MIDI over USB for learning apps and recording software, and a lesson mode that splits the "
        "keyboard into two identical halves for teacher and student. Includes a wooden stand with three pedals, "
        "an adjustable padded bench and a music rest. Record and play back your own performances, layer two voices, "
        "and practise with the built-in metronome and transpose function. Weight 62 pounds assembled.",
    ),
    Example(
        "Ergonomic Mesh Office Chair with Adjustable Lumbar Support and Headrest",
        "High-back mesh office chair designed for long working days: breathable mesh back, adjustable lumbar "
        "support that moves up and down and in and out, and a 2D headrest that adjusts in height and angle. The "
        "thick molded foam seat slides forward and back, the 3D armrests move up, down, forward and sideways, and "
        "the synchro-tilt mechanism reclines from 90 to 128 degrees with a lock in four positions. Class 4 gas "
        "lift, heavy-duty nylon base with smooth-rolling casters for carpet and hard floors. Supports up to 300 "
        "pounds. Assembly takes about 15 minutes with the included tools. Seat height 18 to 22 inches, seat width 20 "
        "inches. Five-year warranty.",
    ),
)
"""The Predict tab's examples when the test data cannot be read (a Space without dataset access)."""
