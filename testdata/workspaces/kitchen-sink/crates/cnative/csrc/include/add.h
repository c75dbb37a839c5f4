#ifndef CNATIVE_ADD_H
#define CNATIVE_ADD_H

#define CNATIVE_VERSION 3

int cnative_add(int a, int b);
int cnative_version(void);

#endif
