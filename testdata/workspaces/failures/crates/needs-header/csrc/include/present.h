#ifndef PRESENT_H
#define PRESENT_H

#define PRESENT_VALUE 5

#endif
