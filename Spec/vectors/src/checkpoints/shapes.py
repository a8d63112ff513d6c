"""Shapes and their areas: a generated module for the checkpoint and tag-model vectors."""

import math

class Shape0:
    """Shape number 0."""

    def __init__(self, size=0):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 1

class Shape1:
    """Shape number 1."""

    def __init__(self, size=1):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 2

class Shape2:
    """Shape number 2."""

    def __init__(self, size=2):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 3

class Shape3:
    """Shape number 3."""

    def __init__(self, size=3):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 4

class Shape4:
    """Shape number 4."""

    def __init__(self, size=4):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 5

class Shape5:
    """Shape number 5."""

    def __init__(self, size=5):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 6

class Shape6:
    """Shape number 6."""

    def __init__(self, size=6):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 7

class Shape7:
    """Shape number 7."""

    def __init__(self, size=7):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 8

class Shape8:
    """Shape number 8."""

    def __init__(self, size=8):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 9

class Shape9:
    """Shape number 9."""

    def __init__(self, size=9):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 10

class Shape10:
    """Shape number 10."""

    def __init__(self, size=10):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 11

class Shape11:
    """Shape number 11."""

    def __init__(self, size=11):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 12

class Shape12:
    """Shape number 12."""

    def __init__(self, size=12):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 13

class Shape13:
    """Shape number 13."""

    def __init__(self, size=13):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 14

class Shape14:
    """Shape number 14."""

    def __init__(self, size=14):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 15

class Shape15:
    """Shape number 15."""

    def __init__(self, size=15):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 16

class Shape16:
    """Shape number 16."""

    def __init__(self, size=16):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 17

class Shape17:
    """Shape number 17."""

    def __init__(self, size=17):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 18

class Shape18:
    """Shape number 18."""

    def __init__(self, size=18):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 19

class Shape19:
    """Shape number 19."""

    def __init__(self, size=19):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 20

class Shape20:
    """Shape number 20."""

    def __init__(self, size=20):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 21

class Shape21:
    """Shape number 21."""

    def __init__(self, size=21):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 22

class Shape22:
    """Shape number 22."""

    def __init__(self, size=22):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 23

class Shape23:
    """Shape number 23."""

    def __init__(self, size=23):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 24

class Shape24:
    """Shape number 24."""

    def __init__(self, size=24):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 25

class Shape25:
    """Shape number 25."""

    def __init__(self, size=25):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 26

class Shape26:
    """Shape number 26."""

    def __init__(self, size=26):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 27

class Shape27:
    """Shape number 27."""

    def __init__(self, size=27):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 28

class Shape28:
    """Shape number 28."""

    def __init__(self, size=28):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 29

class Shape29:
    """Shape number 29."""

    def __init__(self, size=29):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 30

class Shape30:
    """Shape number 30."""

    def __init__(self, size=30):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 31

class Shape31:
    """Shape number 31."""

    def __init__(self, size=31):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 32

class Shape32:
    """Shape number 32."""

    def __init__(self, size=32):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 33

class Shape33:
    """Shape number 33."""

    def __init__(self, size=33):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 34

class Shape34:
    """Shape number 34."""

    def __init__(self, size=34):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 35

class Shape35:
    """Shape number 35."""

    def __init__(self, size=35):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 36

class Shape36:
    """Shape number 36."""

    def __init__(self, size=36):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 37

class Shape37:
    """Shape number 37."""

    def __init__(self, size=37):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 38

class Shape38:
    """Shape number 38."""

    def __init__(self, size=38):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 39

class Shape39:
    """Shape number 39."""

    def __init__(self, size=39):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 40

class Shape40:
    """Shape number 40."""

    def __init__(self, size=40):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 41

class Shape41:
    """Shape number 41."""

    def __init__(self, size=41):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 42

class Shape42:
    """Shape number 42."""

    def __init__(self, size=42):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 43

class Shape43:
    """Shape number 43."""

    def __init__(self, size=43):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 44

class Shape44:
    """Shape number 44."""

    def __init__(self, size=44):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 45

class Shape45:
    """Shape number 45."""

    def __init__(self, size=45):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 46

class Shape46:
    """Shape number 46."""

    def __init__(self, size=46):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 47

class Shape47:
    """Shape number 47."""

    def __init__(self, size=47):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 48

class Shape48:
    """Shape number 48."""

    def __init__(self, size=48):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 49

class Shape49:
    """Shape number 49."""

    def __init__(self, size=49):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 50

class Shape50:
    """Shape number 50."""

    def __init__(self, size=50):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 51

class Shape51:
    """Shape number 51."""

    def __init__(self, size=51):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 52

class Shape52:
    """Shape number 52."""

    def __init__(self, size=52):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 53

class Shape53:
    """Shape number 53."""

    def __init__(self, size=53):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 54

class Shape54:
    """Shape number 54."""

    def __init__(self, size=54):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 55

class Shape55:
    """Shape number 55."""

    def __init__(self, size=55):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 56

class Shape56:
    """Shape number 56."""

    def __init__(self, size=56):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 57

class Shape57:
    """Shape number 57."""

    def __init__(self, size=57):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 58

class Shape58:
    """Shape number 58."""

    def __init__(self, size=58):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 59

class Shape59:
    """Shape number 59."""

    def __init__(self, size=59):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 60

class Shape60:
    """Shape number 60."""

    def __init__(self, size=60):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 61

class Shape61:
    """Shape number 61."""

    def __init__(self, size=61):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 62

class Shape62:
    """Shape number 62."""

    def __init__(self, size=62):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 63

class Shape63:
    """Shape number 63."""

    def __init__(self, size=63):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 64

class Shape64:
    """Shape number 64."""

    def __init__(self, size=64):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 65

class Shape65:
    """Shape number 65."""

    def __init__(self, size=65):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 66

class Shape66:
    """Shape number 66."""

    def __init__(self, size=66):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 67

class Shape67:
    """Shape number 67."""

    def __init__(self, size=67):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 68

class Shape68:
    """Shape number 68."""

    def __init__(self, size=68):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 69

class Shape69:
    """Shape number 69."""

    def __init__(self, size=69):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 70

class Shape70:
    """Shape number 70."""

    def __init__(self, size=70):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 71

class Shape71:
    """Shape number 71."""

    def __init__(self, size=71):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 72

class Shape72:
    """Shape number 72."""

    def __init__(self, size=72):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 73

class Shape73:
    """Shape number 73."""

    def __init__(self, size=73):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 74

class Shape74:
    """Shape number 74."""

    def __init__(self, size=74):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 75

class Shape75:
    """Shape number 75."""

    def __init__(self, size=75):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 76

class Shape76:
    """Shape number 76."""

    def __init__(self, size=76):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 77

class Shape77:
    """Shape number 77."""

    def __init__(self, size=77):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 78

class Shape78:
    """Shape number 78."""

    def __init__(self, size=78):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 79

class Shape79:
    """Shape number 79."""

    def __init__(self, size=79):
        self.size = size

    def area(self):
        return math.pi * self.size ** 2 / 80

