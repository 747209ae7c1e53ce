# Never evaluated: polc runs deny and warn rules only in package main and packages polc.<name>.
package team.rules

deny contains "every object" if true
